package armature

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
)

// Request is a request that passed the pipeline: routed, authenticated, authorized and
// validated by the core. Its accessors read the core's own data (each value is copied into Go
// memory, so it may be kept). A Request is valid until its handler returns; using it later
// (from a goroutine the handler started) panics.
type Request struct {
	p    *pending
	done atomic.Bool
}

func (r *Request) native() *pending {
	if r.done.Load() {
		panic("armature: Request used after its handler returned")
	}
	return r.p
}

// Method is the HTTP method (`GET`, `POST`...).
func (r *Request) Method() string { return r.native().method() }

// Path is the request path as received (percent-encoded), without the query.
func (r *Request) Path() string { return r.native().path() }

// RawQuery is the query string as received, without the `?`.
func (r *Request) RawQuery() string { return r.native().query() }

// OperationID is the contract operation the request was routed to.
func (r *Request) OperationID() string { return r.native().operationID }

// RequestID is the request's id (the client's valid `x-request-id`, or one the core made); it
// is in every log line and problem about the request.
func (r *Request) RequestID() string { return r.native().requestID() }

// TraceID is the W3C trace id (32 hex digits).
func (r *Request) TraceID() string { return r.native().traceID() }

// SpanID is the id of the request's server span (16 hex digits).
func (r *Request) SpanID() string { return r.native().spanID() }

// Traceparent is the `traceparent` to send on an outgoing call made while handling this request:
// this trace and its flags, and a new span id for each call (its own child of this request's
// span). The response's traceparent names the server span itself. OutgoingHeaders gives every
// header to send.
func (r *Request) Traceparent() string { return r.native().outgoingTraceparent() }

// OutgoingHeaders are the headers to send on an outgoing call: `traceparent` with a new span id
// (each call its own child of this request's span) and, when the request had one, `tracestate`.
// No span is exported for the call: BeginCall does that.
//
//	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
//	for name, values := range r.OutgoingHeaders() {
//		req.Header[name] = values
//	}
func (r *Request) OutgoingHeaders() http.Header {
	header := http.Header{}
	header.Set("Traceparent", r.native().outgoingTraceparent())
	if tracestate := r.native().tracestate(); tracestate != "" {
		header.Set("Tracestate", tracestate)
	}
	return header
}

// Tracestate is the request's validated, normalized `tracestate`; "" when it had none.
func (r *Request) Tracestate() string { return r.native().tracestate() }

// TraceFlags is the trace-flags byte: bit 0 sampled, bit 1 random trace id.
func (r *Request) TraceFlags() byte { return r.native().traceFlags() }

// Sampled says whether the trace is sampled (the request's span is recorded when tracing is on).
func (r *Request) Sampled() bool { return r.TraceFlags()&1 == 1 }

// BeginCall begins an outgoing call exported as a client span when this request's span is
// recorded: send call.Header() on the call, then End it with the answer's status. name names the
// span (the method, by the HTTP client convention; not empty); method and url become its
// attributes ("" leaves them out). The call may outlive the handler.
func (r *Request) BeginCall(name, method, url string) (*OutgoingCall, error) {
	return r.native().beginCall(name, method, url)
}

// Header is the first value of a request header (case-insensitive name); "" when absent.
func (r *Request) Header(name string) string {
	value, _ := r.native().header(name)
	return value
}

// Headers is every request header line, keyed by canonical name as net/http does.
func (r *Request) Headers() http.Header {
	headers := http.Header{}
	r.native().headers(func(name, value string) { headers.Add(name, value) })
	return headers
}

// Body is the request body, already checked against the contract.
func (r *Request) Body() []byte { return r.native().body() }

// JSON decodes the JSON body (which the core has validated against the contract's schema)
// into v.
func (r *Request) JSON(v any) error {
	if err := json.Unmarshal(r.native().body(), v); err != nil {
		return fmt.Errorf("armature: decoding the body of %s: %w", r.p.operationID, err)
	}
	return nil
}

// Location is where a parameter comes from.
type Location int

// The parameter locations of OpenAPI.
const (
	InPath Location = iota
	InQuery
	InHeader
	InCookie
)

func (l Location) native() uint32 {
	switch l {
	case InQuery:
		return locationQuery
	case InHeader:
		return locationHeader
	case InCookie:
		return locationCookie
	default:
		return locationPath
	}
}

// Param is a path parameter as text: a string is its characters, any other value its JSON
// (`42`, `true`, `[1,2]`). "" when the template has no such name.
func (r *Request) Param(name string) string {
	value, _ := r.native().param(locationPath, name)
	return value
}

// Lookup is the parameter name of location as text (see Param), and whether the request
// carried it (or the schema gave a default).
func (r *Request) Lookup(location Location, name string) (string, bool) {
	return r.native().param(location.native(), name)
}

// Params is every parameter of location, typed by the contract's schemas (integers stay
// exact as json.Number).
func (r *Request) Params(location Location) map[string]any {
	params := map[string]any{}
	decoder := json.NewDecoder(bytes.NewReader(r.native().paramsJSON(location.native())))
	decoder.UseNumber()
	_ = decoder.Decode(&params) // the core writes a JSON object
	return params
}

// DecodeParams decodes every parameter of location into v, a struct with `json` tags:
// typed, as the contract's schemas say.
func (r *Request) DecodeParams(location Location, v any) error {
	if err := json.Unmarshal(r.native().paramsJSON(location.native()), v); err != nil {
		return fmt.Errorf("armature: decoding the %s parameters of %s: %w", location, r.p.operationID, err)
	}
	return nil
}

func (l Location) String() string {
	if l < InPath || l > InCookie {
		return fmt.Sprintf("Location(%d)", int(l))
	}
	return [...]string{"path", "query", "header", "cookie"}[l]
}

// Identity is who the caller is, as the core's identity stage established it.
type Identity struct {
	// Kind is `anonymous`, `jwt`, `api_key`, `mtls` or `basic`.
	Kind string `json:"kind"`
	// Subject is the JWT `sub`, the API key's name or the certificate's SPIFFE id; "" for
	// anonymous callers.
	Subject string `json:"subject"`
	// Claims are the verified JWT's claims (nil for other kinds).
	Claims map[string]any `json:"claims"`
	// Scopes are the granted scopes.
	Scopes []string `json:"scopes"`
}

// Identity is the caller's identity.
func (r *Request) Identity() Identity {
	var identity Identity
	_ = json.Unmarshal(r.native().identityJSON(), &identity) // the core writes this shape
	return identity
}

// IdentityJSON is the caller's identity as the core's JSON (`{"kind","subject","claims","scopes"}`).
func (r *Request) IdentityJSON() []byte { return r.native().identityJSON() }

// Subject is the caller's subject, and false for an anonymous caller.
func (r *Request) Subject() (string, bool) { return r.native().subject() }
