// Package armaturetest runs requests through an armature.App's whole pipeline in-process, as
// net/http/httptest does for a handler: routing, identity, policy, validation, problems and
// telemetry, with no socket.
//
//	client := armaturetest.NewClient(app)
//	response, err := client.Get("http://service/users/7")
package armaturetest

import (
	"net/http"

	"armature.dev/go"
)

// Transport is an http.RoundTripper that sends each request through App.Inject. The URL's
// scheme and host are not dialed: the host only fills the Host header.
type Transport struct {
	App *armature.App
}

// RoundTrip runs r through the pipeline and returns the answer.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.App.Inject(r)
}

// NewClient is an *http.Client whose requests go through app in-process. It follows no
// redirects (a test sees the redirect itself).
func NewClient(app *armature.App) *http.Client {
	return &http.Client{
		Transport: &Transport{App: app},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
