// Package conformance is the Go conformance service: every operation of
// conformance/contract.yaml, answering what conformance/README.md lists (the same answers as
// the Rust, C, Python and Node services). `ci/serve go` runs it (cmd/armature-conformance-go);
// the tests run the shared cases through it over HTTP and in-process.
package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"time"

	"armature.dev/go"
	"armature.dev/go/armaturetest"
)

// New is the conformance app over dir (the repository's conformance/ folder): its contract and
// configuration, with ARMATURE_* environment overrides.
func New(dir string) (*armature.App, error) {
	app, err := armature.New(armature.Options{
		Contract: filepath.Join(dir, "contract.yaml"),
		Config:   filepath.Join(dir, "config.yaml"),
	})
	if err != nil {
		return nil, err
	}
	for id, handler := range handlers {
		app.Operation(id, handler)
	}
	return app, nil
}

type user = map[string]any

func noContent(context.Context, *armature.Request) (*armature.Response, error) { return nil, nil }

func whoami(_ context.Context, r *armature.Request) (*armature.Response, error) {
	return armature.Bytes(200, "application/json", r.IdentityJSON()), nil
}

// withoutPassword is the JSON body with id set and password removed.
func withoutPassword(r *armature.Request, id any) (user, error) {
	var body user
	if err := r.JSON(&body); err != nil {
		return nil, err
	}
	delete(body, "password")
	body["id"] = id
	return body, nil
}

// subject is the caller's subject, or JSON null.
func subject(r *armature.Request) any {
	if s, ok := r.Subject(); ok {
		return s
	}
	return nil
}

var handlers = map[string]armature.HandlerFunc{
	"plaintext": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.Bytes(200, "text/plain", []byte("Hello, World!")), nil
	},
	"json": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, map[string]string{"message": "Hello, World!"}), nil
	},
	"getUser": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		id := r.Params(armature.InPath)["id"]
		return armature.JSON(200, user{"id": id, "name": "Alice", "email": "alice@example.com", "age": 30}), nil
	},
	"createUser": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		body, err := withoutPassword(r, 1)
		if err != nil {
			return nil, err
		}
		return armature.JSON(201, body), nil
	},
	"updateUser": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		body, err := withoutPassword(r, r.Params(armature.InPath)["id"])
		if err != nil {
			return nil, err
		}
		return armature.JSON(200, body), nil
	},
	"deleteUser": noContent,
	"deleteNote": noContent,
	"search": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, user{"query": r.Params(armature.InQuery)}), nil
	},
	"echoHeaders": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		echoed := user{}
		headers, cookies := r.Params(armature.InHeader), r.Params(armature.InCookie)
		for key, value := range map[string]any{"tenant": headers["X-Tenant"], "count": headers["X-Count"], "session": cookies["session"]} {
			if value != nil {
				echoed[key] = value
			}
		}
		return armature.JSON(200, echoed), nil
	},
	"getItems": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, user{"ids": r.Params(armature.InPath)["ids"]}), nil
	},
	"createPet": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		return armature.Bytes(201, "application/json", r.Body()), nil
	},
	"echoText": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		return armature.Bytes(200, "text/plain", r.Body()), nil
	},
	"context": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, map[string]string{
			"operation_id": r.OperationID(), "method": r.Method(), "path": r.Path(),
			"request_id": r.RequestID(), "trace_id": r.TraceID(),
		}), nil
	},
	"brokenResponse": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, user{"message": 42}), nil
	},
	"undocumentedStatus": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.JSON(418, user{}), nil
	},
	"failingHandler": func(context.Context, *armature.Request) (*armature.Response, error) {
		return nil, errors.New("database exploded")
	},
	"refusingHandler": func(context.Context, *armature.Request) (*armature.Response, error) {
		return nil, armature.Refuse(409, "the handler refused this request")
	},
	"slowHandler": func(ctx context.Context, r *armature.Request) (*armature.Response, error) {
		text, _ := r.Lookup(armature.InQuery, "ms")
		ms, _ := strconv.Atoi(text) // the contract makes it an integer
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return armature.JSON(200, user{"slept_ms": ms}), nil
		case <-ctx.Done():
			return nil, ctx.Err() // past the request timeout the core has answered 504
		}
	},
	"droppedResponder": func(context.Context, *armature.Request) (*armature.Response, error) {
		return nil, armature.ErrAbandon
	},
	"whoami":         whoami,
	"whoamiOptional": whoami,
	"whoamiBasic":    whoami,
	"listNotes": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		var rule any
		if value := r.Header("x-authz-rule"); value != "" {
			rule = value
		}
		return armature.JSON(200, user{
			"owner": r.Params(armature.InPath)["owner"], "viewer": subject(r), "notes": []any{}, "rule": rule,
		}), nil
	},
	"createNote": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		var body struct {
			Text string `json:"text"`
		}
		if err := r.JSON(&body); err != nil {
			return nil, err
		}
		return armature.JSON(201, user{"owner": r.Params(armature.InPath)["owner"], "text": body.Text, "author": subject(r)}), nil
	},
	"policyError": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, user{"message": "the policy should have refused this"}), nil
	},
	// ContentType names text/plain; the header names text/csv, which wins.
	"contentTypeBoth": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.Text(200, "a,b").WithHeader("Content-Type", "text/csv"), nil
	},
	"mixedCaseHeaders": func(context.Context, *armature.Request) (*armature.Response, error) {
		response := &armature.Response{Status: 200, Body: []byte("a,b"), Header: http.Header{}}
		// Set as written, not canonicalized (Header.Add would spell them Content-Type, X-Custom-Header).
		response.Header["content-TYPE"] = []string{"text/csv"}
		response.Header["X-Custom-HEADER"] = []string{"yes"}
		return response, nil
	},
	"nothingOk": func(context.Context, *armature.Request) (*armature.Response, error) { return nil, nil },
	// A struct keeps its field order in encoding/json (a map would be sorted by key).
	"orderedKeys": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.JSON(200, struct {
			ID    int    `json:"id"`
			Owner string `json:"owner"`
			Title string `json:"title"`
			Body  string `json:"body"`
		}{1, "alice", "t", "b"}), nil
	},
	"outgoingCalls": func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		first, second := r.OutgoingHeaders(), r.OutgoingHeaders()
		var tracestate any
		if value := first.Get("Tracestate"); value != "" {
			tracestate = value
		}
		return armature.JSON(200, user{
			"outgoing":   []string{first.Get("Traceparent"), second.Get("Traceparent")},
			"tracestate": tracestate,
		}), nil
	},
	"nothingCreated": func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.NoContent(201), nil
	},
}

// wireRequest and wireResponse are the lines of conformance/runner/src/process_transport.rs.
type wireRequest struct {
	Method  string      `json:"method"`
	Target  string      `json:"target"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"` // base64
}

type wireResponse struct {
	Status  int         `json:"status"`
	Headers [][2]string `json:"headers"`
	Body    string      `json:"body"`
}

// ServeTransport answers the runner's process transport (armature-conformance
// --transport-command) through armaturetest, until in ends; then it closes app.
func ServeTransport(app *armature.App, in io.Reader, out io.Writer) error {
	client := &armaturetest.Transport{App: app}
	lines := bufio.NewScanner(in)
	lines.Buffer(make([]byte, 1<<20), 64<<20)
	for lines.Scan() {
		var wire wireRequest
		if err := json.Unmarshal(lines.Bytes(), &wire); err != nil {
			return fmt.Errorf("a transport line: %w", err)
		}
		body, err := base64.StdEncoding.DecodeString(wire.Body)
		if err != nil {
			return fmt.Errorf("a transport body: %w", err)
		}
		// RequestURI: the target exactly as the case sends it, even where net/url would re-encode it.
		request := &http.Request{
			Method: wire.Method, URL: &url.URL{Path: "/"}, RequestURI: wire.Target,
			Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)),
		}
		for _, header := range wire.Headers {
			if http.CanonicalHeaderKey(header[0]) == "Host" {
				request.Host = header[1]
				continue
			}
			request.Header[header[0]] = append(request.Header[header[0]], header[1])
		}
		response, err := client.RoundTrip(request)
		if err != nil {
			return err
		}
		answer, _ := io.ReadAll(response.Body)
		reply := wireResponse{Status: response.StatusCode, Headers: [][2]string{}, Body: base64.StdEncoding.EncodeToString(answer)}
		for name, values := range response.Header {
			for _, value := range values {
				reply.Headers = append(reply.Headers, [2]string{name, value})
			}
		}
		text, _ := json.Marshal(reply)
		if _, err := fmt.Fprintf(out, "armature-response %s\n", text); err != nil {
			return err
		}
	}
	if err := lines.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return app.Close()
}
