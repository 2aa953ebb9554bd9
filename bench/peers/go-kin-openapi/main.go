// Benchmark peer for ci/bench: the benchmark's endpoints on Go's net/http with kin-openapi's
// openapi3filter validating every request and response against the same contract the Armature
// services serve (conformance/contract.yaml), what a Go team uses for OpenAPI-first validation.
//
// Answers on 127.0.0.1:$PORT (default 8080), as bench/peers/go-nethttp does; the contract's path
// is CONTRACT (default ../../../conformance/contract.yaml from this folder). GOMAXPROCS is left
// to the environment: ci/bench sets it.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// recorder buffers the handler's answer so that it can be validated before it is sent.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }

func problem(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"status": status, "detail": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// handlers answer what the Armature conformance services answer for these operations.
var handlers = map[string]http.HandlerFunc{
	"plaintext": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(200)
		w.Write([]byte("Hello, World!"))
	},
	"json": func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"message": "Hello, World!"})
	},
	"getUser": func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		writeJSON(w, 200, map[string]any{"id": id, "name": "Alice", "email": "alice@example.com", "age": 30})
	},
	"createUser": func(w http.ResponseWriter, r *http.Request) {
		var user map[string]any
		if err := json.NewDecoder(r.Body).Decode(&user); err != nil {
			problem(w, 400, err)
			return
		}
		delete(user, "password")
		user["id"] = 1
		writeJSON(w, 201, user)
	},
}

func main() {
	path := os.Getenv("CONTRACT")
	if path == "" {
		path = "../../../conformance/contract.yaml"
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		log.Fatal(err)
	}
	doc.Servers = nil // match any host
	dropReadOnlyFromRequired(doc)
	router, err := legacy.NewRouter(doc)
	if err != nil {
		log.Fatal(err)
	}
	options := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, map[string]string{"status": "ready"}) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		if err != nil {
			problem(w, http.StatusNotFound, err)
			return
		}
		handler := handlers[route.Operation.OperationID]
		if handler == nil {
			problem(w, http.StatusNotImplemented, routers.ErrPathNotFound)
			return
		}
		input := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: options}
		if err := openapi3filter.ValidateRequest(r.Context(), input); err != nil {
			problem(w, http.StatusBadRequest, err)
			return
		}
		for name, value := range params {
			r.SetPathValue(name, value)
		}
		rec := &recorder{header: http.Header{}, status: 200}
		handler(rec, r)
		output := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: input, Status: rec.status, Header: rec.header,
			Body: io.NopCloser(bytes.NewReader(rec.body.Bytes())), Options: options,
		}
		if err := openapi3filter.ValidateResponse(r.Context(), output); err != nil {
			problem(w, http.StatusInternalServerError, err)
			return
		}
		for name, values := range rec.header {
			w.Header()[name] = values
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body.Bytes())
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	log.Fatal(http.ListenAndServe("127.0.0.1:"+port, mux))
}

// dropReadOnlyFromRequired works around kin-openapi v0.153 validating a 3.1 document's required
// readOnly properties in requests too (POST /users without "id" is refused): a readOnly property
// is not required from clients. Responses then do not require them either, which makes this peer
// check a little less than Armature does, never more.
func dropReadOnlyFromRequired(doc *openapi3.T) {
	for _, ref := range doc.Components.Schemas {
		schema := ref.Value
		kept := schema.Required[:0]
		for _, name := range schema.Required {
			if property := schema.Properties[name]; property == nil || property.Value == nil || !property.Value.ReadOnly {
				kept = append(kept, name)
			}
		}
		schema.Required = kept
	}
}
