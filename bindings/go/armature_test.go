package armature_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"armature.dev/go"
	"armature.dev/go/armaturetest"
)

// newApp is an App with embedded defaults (or this configuration), closed after the test.
func newApp(t *testing.T, config string, options ...func(*armature.Options)) *armature.App {
	t.Helper()
	opts := armature.Options{}
	if config != "" {
		opts.Config = filepath.Join(t.TempDir(), "armature.yaml")
		if err := os.WriteFile(opts.Config, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, option := range options {
		option(&opts)
	}
	app, err := armature.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := app.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return app
}

type answer struct {
	status  int
	header  http.Header
	body    string
	problem map[string]any
}

func do(t *testing.T, client *http.Client, method, url, body string, headers ...string) answer {
	t.Helper()
	request, err := http.NewRequest(method, "http://service"+url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		request.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		request.Header.Add(headers[i], headers[i+1])
	}
	response, err := client.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(response.Body)
	if err != nil {
		t.Fatal(err)
	}
	got := answer{status: response.StatusCode, header: response.Header, body: string(text)}
	if strings.HasPrefix(response.Header.Get("Content-Type"), "application/problem+json") {
		if err := json.Unmarshal(text, &got.problem); err != nil {
			t.Fatalf("a problem that is not JSON: %s", text)
		}
	}
	return got
}

func expect(t *testing.T, got answer, status int, bodyOrType string) {
	t.Helper()
	if got.status != status {
		t.Fatalf("status %d, want %d: %s", got.status, status, got.body)
	}
	if got.problem != nil {
		if kind, _ := got.problem["type"].(string); !strings.HasSuffix(kind, "/"+bodyOrType) {
			t.Fatalf("problem type %v, want .../%s: %s", got.problem["type"], bodyOrType, got.body)
		}
	} else if bodyOrType != "" && got.body != bodyOrType {
		t.Fatalf("body %q, want %q", got.body, bodyOrType)
	}
}

var userSchema = armature.Schema{
	"type": "object", "required": []string{"id", "name"},
	"properties":           armature.Schema{"id": armature.Schema{"type": "integer"}, "name": armature.Schema{"type": "string"}},
	"additionalProperties": false,
}

func TestCodeFirstOperationsAreServedAndValidated(t *testing.T) {
	app := newApp(t, "")
	app.Handle("GET /users/{id}", armature.Spec{
		PathParams: map[string]armature.Schema{"id": {"type": "integer", "minimum": 1}},
		Responses:  map[int]armature.Schema{200: userSchema},
	}, func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		if r.Param("id") == "13" {
			return armature.JSON(200, map[string]any{"id": "thirteen"}), nil // breaks the schema
		}
		return armature.JSON(200, map[string]any{"id": r.Params(armature.InPath)["id"], "name": "Alice"}), nil
	})
	app.Handle("POST /users", armature.Spec{
		OperationID: "createUser", Body: userSchema, Status: 201,
		Responses: map[int]armature.Schema{201: userSchema},
	}, func(_ context.Context, r *armature.Request) (*armature.Response, error) {
		var user map[string]any
		if err := r.JSON(&user); err != nil {
			return nil, err
		}
		return armature.JSON(201, user), nil
	})
	client := armaturetest.NewClient(app)
	expect(t, do(t, client, "GET", "/users/7", ""), 200, `{"id":7,"name":"Alice"}`)
	expect(t, do(t, client, "GET", "/users/abc", ""), 400, "request-validation")
	expect(t, do(t, client, "GET", "/users/0", ""), 400, "request-validation")
	expect(t, do(t, client, "GET", "/users/13", ""), 500, "response-validation")
	expect(t, do(t, client, "POST", "/users", `{"id":1,"name":"Bob"}`), 201, `{"id":1,"name":"Bob"}`)
	expect(t, do(t, client, "POST", "/users", `{"id":1}`), 400, "request-validation")
	expect(t, do(t, client, "GET", "/nowhere", ""), 404, "not-found")

	document := do(t, client, "GET", "/openapi.json", "")
	var contract struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(document.body), &contract); err != nil {
		t.Fatal(err)
	}
	if got := contract.Paths["/users/{id}"]["get"].OperationID; got != "getUsersById" {
		t.Fatalf("/openapi.json: GET /users/{id} is %q", got)
	}
	ids, err := app.OperationIDs()
	sort.Strings(ids)
	if err != nil || strings.Join(ids, ",") != "createUser,getUsersById" {
		t.Fatalf("OperationIDs: %v %v", ids, err)
	}
}

func TestHandlerResultsAndFailures(t *testing.T) {
	app := newApp(t, "")
	routes := map[string]armature.HandlerFunc{
		"GET /text": func(context.Context, *armature.Request) (*armature.Response, error) {
			return armature.Text(200, "hi").WithHeader("x-custom", "1"), nil
		},
		"GET /none": func(context.Context, *armature.Request) (*armature.Response, error) { return nil, nil },
		"GET /refuse": func(context.Context, *armature.Request) (*armature.Response, error) {
			return nil, fmt.Errorf("checking stock: %w", armature.Refuse(409, "out of stock"))
		},
		"GET /error": func(context.Context, *armature.Request) (*armature.Response, error) {
			return nil, errors.New("database exploded")
		},
		"GET /panic": func(context.Context, *armature.Request) (*armature.Response, error) { panic("boom") },
		"GET /framing": func(context.Context, *armature.Request) (*armature.Response, error) {
			return armature.Text(200, "x").WithHeader("Content-Length", "1"), nil
		},
		"GET /bad-status": func(context.Context, *armature.Request) (*armature.Response, error) {
			return nil, armature.Refuse(200, "not a refusal status")
		},
		"GET /abandon": func(context.Context, *armature.Request) (*armature.Response, error) {
			return nil, armature.ErrAbandon
		},
		"GET /unserializable": func(context.Context, *armature.Request) (*armature.Response, error) {
			return armature.JSON(200, map[string]any{"f": func() {}}), nil
		},
	}
	for pattern, handler := range routes {
		app.Handle(pattern, armature.Spec{}, handler)
	}
	client := armaturetest.NewClient(app)
	text := do(t, client, "GET", "/text", "")
	expect(t, text, 200, "hi")
	if text.header.Get("X-Custom") != "1" || text.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("headers: %v", text.header)
	}
	expect(t, do(t, client, "GET", "/none", ""), 204, "")
	refused := do(t, client, "GET", "/refuse", "")
	expect(t, refused, 409, "refused")
	if refused.problem["detail"] != "out of stock" {
		t.Fatalf("detail: %v", refused.problem)
	}
	failed := do(t, client, "GET", "/error", "")
	expect(t, failed, 500, "handler-error")
	if strings.Contains(failed.body, "exploded") {
		t.Fatalf("the error message reached the client: %s", failed.body)
	}
	expect(t, do(t, client, "GET", "/panic", ""), 500, "handler-error")
	expect(t, do(t, client, "GET", "/framing", ""), 500, "handler-error")
	expect(t, do(t, client, "GET", "/bad-status", ""), 500, "handler-error")
	expect(t, do(t, client, "GET", "/abandon", ""), 500, "no-response")
	expect(t, do(t, client, "GET", "/unserializable", ""), 500, "handler-error")
}

func TestRequestAccessors(t *testing.T) {
	app := newApp(t, "")
	var seen map[string]any
	app.Handle("POST /things/{id}", armature.Spec{
		PathParams:  map[string]armature.Schema{"id": {"type": "integer"}},
		QueryParams: map[string]armature.Schema{"tags": {"type": "array", "items": armature.Schema{"type": "string"}}, "limit": {"type": "integer", "default": 10}},
		Body:        armature.Schema{"type": "object"},
	}, func(ctx context.Context, r *armature.Request) (*armature.Response, error) {
		deadline, hasDeadline := ctx.Deadline()
		from, _ := armature.FromContext(ctx)
		var query struct {
			Tags  []string `json:"tags"`
			Limit int      `json:"limit"`
		}
		if err := r.DecodeParams(armature.InQuery, &query); err != nil {
			return nil, err
		}
		limit, _ := r.Lookup(armature.InQuery, "limit")
		seen = map[string]any{
			"method": r.Method(), "path": r.Path(), "query": r.RawQuery(), "operation": r.OperationID(),
			"request_id": r.RequestID(), "trace_id": r.TraceID(), "span_id": r.SpanID(), "traceparent": r.Traceparent(),
			"outgoing": r.OutgoingHeaders(), "tracestate": r.Tracestate(), "flags": r.TraceFlags(), "sampled": r.Sampled(),
			"call": func() map[string]any {
				call, err := r.BeginCall("GET", "GET", "http://inventory/stock")
				if err != nil {
					return map[string]any{"error": err.Error()}
				}
				defer call.End(200, "")
				return map[string]any{"recording": call.Recording(), "traceparent": call.Header().Get("Traceparent")}
			}(),
			"header": r.Header("x-thing"), "headers": r.Headers().Values("X-Thing"), "body": string(r.Body()),
			"tags": query.Tags, "limit": query.Limit, "limit_text": limit, "identity": r.Identity().Kind,
			"deadline": hasDeadline && time.Until(deadline) > 0, "from_context": from == r,
		}
		return nil, nil
	})
	client := armaturetest.NewClient(app)
	parent := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	got := do(t, client, "POST", "/things/5?tags=a&tags=b", `{"x":1}`, "x-thing", "one", "x-thing", "two",
		"traceparent", parent, "tracestate", "vendor=x", "x-request-id", "req-42")
	expect(t, got, 204, "")
	want := map[string]any{
		"method": "POST", "path": "/things/5", "query": "tags=a&tags=b", "operation": "postThingsById",
		"request_id": "req-42", "trace_id": "0af7651916cd43dd8448eb211c80319c", "header": "one",
		"body": `{"x":1}`, "limit": 10, "limit_text": "10", "identity": "anonymous", "deadline": true, "from_context": true,
	}
	for key, value := range want {
		if fmt.Sprint(seen[key]) != fmt.Sprint(value) {
			t.Errorf("%s: got %v, want %v", key, seen[key], value)
		}
	}
	if fmt.Sprint(seen["headers"]) != "[one two]" || fmt.Sprint(seen["tags"]) != "[a b]" {
		t.Errorf("headers %v, tags %v", seen["headers"], seen["tags"])
	}
	// An outgoing call: this trace and its flags, a span id of its own, never the server span's.
	traceparent := seen["traceparent"].(string)
	if !strings.HasPrefix(traceparent, "00-0af7651916cd43dd8448eb211c80319c-") || !strings.HasSuffix(traceparent, "-01") ||
		strings.Contains(traceparent, seen["span_id"].(string)) {
		t.Errorf("traceparent %s: want this trace, flags 01, and not this request's span %s", traceparent, seen["span_id"])
	}
	outgoing := seen["outgoing"].(http.Header)
	if next := outgoing.Get("Traceparent"); next == traceparent || !strings.HasPrefix(next, "00-0af7651916cd43dd8448eb211c80319c-") {
		t.Errorf("a second call's traceparent %s: want this trace and a span of its own (the first was %s)", next, traceparent)
	}
	if outgoing.Get("Tracestate") != "vendor=x" || seen["tracestate"] != "vendor=x" {
		t.Errorf("tracestate: outgoing %q, request %v", outgoing.Get("Tracestate"), seen["tracestate"])
	}
	if seen["flags"] != byte(1) || seen["sampled"] != true {
		t.Errorf("flags %v, sampled %v", seen["flags"], seen["sampled"])
	}
	call := seen["call"].(map[string]any)
	if call["recording"] != false || !strings.HasPrefix(call["traceparent"].(string), "00-0af7651916cd43dd8448eb211c80319c-") ||
		call["traceparent"] == traceparent {
		t.Errorf("client span: %v", call)
	}
	if got.header.Get("X-Request-Id") != "req-42" {
		t.Errorf("x-request-id: %v", got.header)
	}
}

// HTTPHandler: a net/http mux behind the pipeline. The core routes by the contract and
// validates before the mux runs; what the mux writes is validated after.
func TestHTTPHandlerServesANetHTTPMuxBehindThePipeline(t *testing.T) {
	var calls atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		from, ok := armature.FromContext(r.Context())
		if !ok {
			http.Error(w, "no armature request", 500)
			return
		}
		w.Header().Set("X-Seen-Request-Id", from.RequestID())
		w.Header().Set("Content-Type", "application/json")
		if r.PathValue("id") == "13" {
			fmt.Fprint(w, `{"id":"thirteen","name":"x"}`) // breaks the contract
			return
		}
		fmt.Fprintf(w, `{"id":%s,"name":%q}`, r.PathValue("id"), r.Host)
	})
	mux.HandleFunc("POST /users", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body))) // the core frames bodies itself
		w.WriteHeader(http.StatusCreated)
		w.Write(body)
	})
	app := newApp(t, "")
	app.Handle("GET /users/{id}", armature.Spec{
		OperationID: "getUser", PathParams: map[string]armature.Schema{"id": {"type": "integer"}},
		Responses: map[int]armature.Schema{200: userSchema},
	}, armature.HTTPHandler(mux))
	app.Handle("POST /users", armature.Spec{
		OperationID: "createUser", Body: userSchema, Responses: map[int]armature.Schema{201: userSchema},
	}, armature.HTTPHandler(mux))
	client := armaturetest.NewClient(app)

	got := do(t, client, "GET", "/users/7", "")
	expect(t, got, 200, `{"id":7,"name":"service"}`)
	if got.header.Get("X-Seen-Request-Id") != got.header.Get("X-Request-Id") || got.header.Get("X-Request-Id") == "" {
		t.Fatalf("the mux saw another request id: %v", got.header)
	}
	expect(t, do(t, client, "POST", "/users", `{"id":2,"name":"Bob"}`), 201, `{"id":2,"name":"Bob"}`)
	if calls.Load() != 2 {
		t.Fatalf("the mux ran %d times, want 2", calls.Load())
	}
	// Refused before the mux runs: not in the contract, a path parameter or a body against it.
	expect(t, do(t, client, "GET", "/users/abc", ""), 400, "request-validation")
	expect(t, do(t, client, "POST", "/users", `{"id":"2"}`), 400, "request-validation")
	expect(t, do(t, client, "DELETE", "/users/7", ""), 405, "method-not-allowed")
	if calls.Load() != 2 {
		t.Fatalf("the mux ran for a refused request: %d calls", calls.Load())
	}
	// The mux's own write, validated after.
	expect(t, do(t, client, "GET", "/users/13", ""), 500, "response-validation")
}

// Past MaxConcurrency running handlers requests wait in the core's queue; past
// server.queue_capacity waiting, the core answers 503. A handler still running at
// server.request_timeout_ms gets 504, and its context ends then.
func TestBackpressureAndTimeout(t *testing.T) {
	app := newApp(t, "server:\n  queue_capacity: 1\n  request_timeout_ms: 300\n",
		func(o *armature.Options) { o.MaxConcurrency = 1 })
	started, release := make(chan struct{}, 4), make(chan struct{})
	app.Handle("GET /block", armature.Spec{}, func(ctx context.Context, r *armature.Request) (*armature.Response, error) {
		started <- struct{}{}
		<-release
		return armature.Text(200, "done"), nil
	})
	var ended atomic.Bool
	app.Handle("GET /never", armature.Spec{}, func(ctx context.Context, r *armature.Request) (*armature.Response, error) {
		<-ctx.Done()
		ended.Store(true)
		return nil, ctx.Err()
	})
	client := armaturetest.NewClient(app)
	results := make(chan int, 3)
	get := func() {
		response, err := client.Get("http://service/block")
		if err != nil {
			results <- -1
			return
		}
		response.Body.Close()
		results <- response.StatusCode
	}
	go get()
	<-started // the only handler slot is taken
	go get()  // waits in the queue, which is then full
	// No way to observe "queued" from outside; the third request only has to come after it.
	time.Sleep(100 * time.Millisecond)
	response, err := client.Get("http://service/block")
	if err != nil {
		t.Fatal(err)
	}
	response.Body.Close()
	if response.StatusCode != 503 {
		t.Fatalf("past the queue's capacity: %d, want 503", response.StatusCode)
	}
	close(release)
	for i := 0; i < 2; i++ {
		if status := <-results; status != 200 {
			t.Fatalf("a queued request got %d", status)
		}
	}
	expect(t, do(t, client, "GET", "/never", ""), 504, "handler-timeout")
	deadline := time.Now().Add(5 * time.Second)
	for !ended.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !ended.Load() {
		t.Fatal("the handler's context did not end at the timeout")
	}
}

func TestListenAndServeUntilShutdown(t *testing.T) {
	app := newApp(t, "")
	app.Handle("GET /hello", armature.Spec{}, func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.Text(200, "hello"), nil
	})
	served := make(chan error, 1)
	go func() { served <- app.ListenAndServe("127.0.0.1:0") }()
	var port int
	for deadline := time.Now().Add(10 * time.Second); port == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		port = app.Port()
	}
	if port == 0 {
		t.Fatal("the service did not start")
	}
	response, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/hello", port))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(response.Body)
	response.Body.Close()
	if response.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("%d %s", response.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, armature.ErrServerClosed) {
		t.Fatalf("ListenAndServe returned %v", err)
	}
	if err := app.Start("127.0.0.1:0"); !errors.Is(err, armature.ErrServerClosed) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
}

// An address given in code wins over ARMATURE_SERVER__PORT, as in every language.
func TestAnAddressGivenInCodeWinsOverTheEnvironment(t *testing.T) {
	t.Setenv("ARMATURE_SERVER__PORT", "1") // port 1: binding it would fail
	app := newApp(t, "")
	app.Handle("GET /hello", armature.Spec{}, func(context.Context, *armature.Request) (*armature.Response, error) {
		return armature.Text(200, "hello"), nil
	})
	if err := app.Start("127.0.0.1:0"); err != nil {
		t.Fatalf("Start with a port in code: %v (the environment's port won?)", err)
	}
	defer app.Close()
	if port := app.Port(); port == 0 || port == 1 {
		t.Fatalf("listening on port %d, not the free one asked for in code", port)
	}
}

func TestMisuseIsReported(t *testing.T) {
	_, err := armature.New(armature.Options{Contract: "/nonexistent/openapi.yaml"})
	var coreErr *armature.Error
	if !errors.As(err, &coreErr) || coreErr.Name != "CONTRACT" || !strings.Contains(err.Error(), "/nonexistent/openapi.yaml") {
		t.Fatalf("a missing contract: %v", err)
	}
	app := newApp(t, "")
	app.Handle("GET /", armature.Spec{}, func(context.Context, *armature.Request) (*armature.Response, error) { return nil, nil })
	app.Operation("noSuchOperation", func(context.Context, *armature.Request) (*armature.Response, error) { return nil, nil })
	if err := app.Start("127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "noSuchOperation") {
		t.Fatalf("an unknown operation: %v", err)
	}
	injected := newApp(t, "")
	injected.Handle("GET /", armature.Spec{}, func(context.Context, *armature.Request) (*armature.Response, error) { return nil, nil })
	do(t, armaturetest.NewClient(injected), "GET", "/", "")
	if err := injected.Start("127.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "after an in-process request") {
		t.Fatalf("Start(addr) after Inject: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a second handler for one operation did not panic")
		}
	}()
	app.Operation("noSuchOperation", func(context.Context, *armature.Request) (*armature.Response, error) { return nil, nil })
}
