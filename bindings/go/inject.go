package armature

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// Inject runs one request through the whole pipeline in-process, with no socket, and returns
// the answer a client would get: the transport of package armaturetest. The App need not be
// listening; from the first call on, no handler can be added and /ready reports ready.
// r.RequestURI, when set, is sent as the target as it is; else r.URL's path and query.
// It blocks until answered (at most server.request_timeout_ms after a handler took it).
func (a *App) Inject(r *http.Request) (*http.Response, error) {
	a.mu.Lock()
	err := a.build("", 0, false)
	server := a.server
	a.mu.Unlock()
	if err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, fmt.Errorf("armature: reading the request body: %w", err)
		}
		r.Body.Close()
	}
	var headers packed
	if r.Host != "" {
		headers.add("host", r.Host)
	} else if r.URL.Host != "" {
		headers.add("host", r.URL.Host)
	}
	for name, values := range r.Header {
		for _, value := range values {
			headers.add(name, value)
		}
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	target := r.RequestURI // set: the exact target (a server-side field, unused by clients)
	if target == "" {
		target = r.URL.RequestURI()
	}
	answer, err := server.inject(method, target, &headers, body)
	if err != nil {
		return nil, err
	}
	response := &http.Response{
		Status:        strconv.Itoa(answer.status) + " " + http.StatusText(answer.status),
		StatusCode:    answer.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{},
		Body:          io.NopCloser(bytes.NewReader(answer.body)),
		ContentLength: int64(len(answer.body)),
		Request:       r,
	}
	for _, line := range answer.headers {
		response.Header.Add(line[0], line[1])
	}
	return response, nil
}
