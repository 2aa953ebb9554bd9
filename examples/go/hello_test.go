package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"armature.dev/go/armaturetest"
)

func TestHello(t *testing.T) {
	app, err := helloApp()
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	client := armaturetest.NewClient(app)
	for _, c := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/hello/ada", "", 200, `{"hello":"ada"}`},
		{"POST", "/greetings", `{"name":"Ada","times":2}`, 201, `{"text":"Hello, Ada! Hello, Ada!"}`},
		{"POST", "/greetings", `{"name":"Ada","times":9}`, 400, `request-validation`},
		{"POST", "/greetings", `{"name":"nobody"}`, 422, `nobody cannot be greeted`},
	} {
		request, _ := http.NewRequest(c.method, "http://hello"+c.path, strings.NewReader(c.body))
		request.Header.Set("Content-Type", "application/json")
		response, err := client.Do(request)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(response.Body)
		if response.StatusCode != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", c.method, c.path, response.StatusCode, body, c.status, c.want)
		}
	}
}
