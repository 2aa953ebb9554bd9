package armature

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Schema is a JSON Schema, as a Go value that encodes to it (usually a map).
type Schema = map[string]any

// Spec declares an operation in code, for Handle: what the contract would say of it. The core
// validates requests and responses against these schemas exactly as for a contract file.
type Spec struct {
	// OperationID names the operation; made from the method and path when empty
	// (`GET /users/{id}`: `getUsersById`).
	OperationID string
	// Summary is shown in /openapi.json.
	Summary string
	// PathParams are the schemas of path parameters; a template variable not listed is a string.
	PathParams map[string]Schema
	// QueryParams are the schemas of the optional query parameters.
	QueryParams map[string]Schema
	// Body is the JSON request body's schema, when the operation takes one (required).
	Body Schema
	// Responses are the documented responses by status, each with its JSON body's schema (nil:
	// no body). None means any status and body are accepted.
	Responses map[int]Schema
	// Status is the status of the handler's nil responses (200 gives 204 No Content).
	Status int
	// Components are schemas the others refer to as `#/components/schemas/<name>`.
	Components map[string]Schema
}

// operationSpec is the JSON the C ABI's armature_contract_with_operations reads.
type operationSpec struct {
	Method      string            `json:"method"`
	Path        string            `json:"path"`
	OperationID string            `json:"operation_id"`
	Summary     string            `json:"summary,omitempty"`
	PathParams  map[string]Schema `json:"path_params,omitempty"`
	QueryParams map[string]Schema `json:"query_params,omitempty"`
	RequestBody *bodySpec         `json:"request_body,omitempty"`
	Responses   []responseSpec    `json:"responses,omitempty"`
	Components  map[string]Schema `json:"components,omitempty"`
}

type bodySpec struct {
	Schema Schema `json:"schema"`
}

type responseSpec struct {
	Status int    `json:"status"`
	Schema Schema `json:"schema,omitempty"`
}

// Handle declares an operation in code and binds handler to it. pattern is a method and an
// OpenAPI path template, as for net/http.ServeMux: `GET /users/{id}`. The operation is added to
// the served contract (and /openapi.json). It panics on a malformed pattern or a taken
// operationId, as ServeMux does; a path or method the contract already has is reported by
// ListenAndServe.
func (a *App) Handle(pattern string, spec Spec, handler HandlerFunc) {
	method, path, err := splitPattern(pattern)
	if err != nil {
		panic(err.Error())
	}
	id := spec.OperationID
	if id == "" {
		id = defaultOperationID(method, path)
	}
	declared := &operationSpec{
		Method: method, Path: path, OperationID: id, Summary: spec.Summary,
		PathParams: spec.PathParams, QueryParams: spec.QueryParams, Components: spec.Components,
	}
	if spec.Body != nil {
		declared.RequestBody = &bodySpec{Schema: spec.Body}
	}
	statuses := make([]int, 0, len(spec.Responses))
	for status := range spec.Responses {
		statuses = append(statuses, status)
	}
	sort.Ints(statuses) // a stable contract, whatever the map order
	for _, status := range statuses {
		declared.Responses = append(declared.Responses, responseSpec{Status: status, Schema: spec.Responses[status]})
	}
	status := spec.Status
	if status == 0 {
		status = http.StatusOK
	}
	a.bind(id, route{handler: handler, status: status}, declared)
}

func splitPattern(pattern string) (method, path string, err error) {
	method, path, ok := strings.Cut(strings.TrimSpace(pattern), " ")
	path = strings.TrimSpace(path)
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		return "", "", fmt.Errorf("armature: pattern %q is not `METHOD /path`, e.g. `GET /users/{id}`", pattern)
	}
	return strings.ToUpper(method), path, nil
}
