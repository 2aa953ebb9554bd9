package armature

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Response is a handler's answer. The core checks it (status, headers) and validates it
// against the contract before it is sent; `content-length` and the other framing headers are
// the core's.
type Response struct {
	Status      int
	ContentType string
	Header      http.Header
	Body        []byte
	err         error // a body that could not be made (JSON): a handler failure
	nothing     bool  // NoContent: "nothing returned", which the core answers 204 for status 200
}

// JSON is a response with v encoded as JSON (`application/json`).
func JSON(status int, v any) *Response {
	body, err := json.Marshal(v)
	if err != nil {
		err = fmt.Errorf("armature: the response body is not JSON-serializable: %w", err)
	}
	return &Response{Status: status, ContentType: "application/json", Body: body, err: err}
}

// Text is a plain text response (`text/plain; charset=utf-8`).
func Text(status int, text string) *Response {
	return &Response{Status: status, ContentType: "text/plain; charset=utf-8", Body: []byte(text)}
}

// Bytes is a response with this content type and body.
func Bytes(status int, contentType string, body []byte) *Response {
	return &Response{Status: status, ContentType: contentType, Body: body}
}

// NoContent is "nothing returned" with this status, as a nil response is with the operation's:
// no body, and status 200 is answered 204 No Content (the core's answer rule, the same in every
// language); any other status, 201 say, is kept.
func NoContent(status int) *Response { return &Response{Status: status, nothing: true} }

// WithHeader adds a response header line and returns r.
func (r *Response) WithHeader(name, value string) *Response {
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Add(name, value)
	return r
}

// RefusalError is an intended refusal: the client gets a `refused` problem with its status
// (400-599) and detail. Make one with Refuse.
type RefusalError struct {
	Status int
	Detail string
}

func (e *RefusalError) Error() string { return fmt.Sprintf("refused with %d: %s", e.Status, e.Detail) }

// Refuse is the error a handler returns to refuse a request on purpose, with a status from
// 400 to 599 and a detail the client sees (unlike other errors, whose message is only logged).
// Wrapped (fmt.Errorf("...: %w", armature.Refuse(...))) it still refuses.
func Refuse(status int, detail string) error { return &RefusalError{Status: status, Detail: detail} }

func asRefusal(err error) (*RefusalError, bool) {
	var refusal *RefusalError
	ok := errors.As(err, &refusal)
	return refusal, ok
}

// ErrAbandon is the error of a handler that gives up without an answer: the core answers as
// for a request never answered (500 `no-response`, or the 504 it already sent after a
// timeout). Returning ctx.Err() does the same.
var ErrAbandon = errors.New("armature: the handler gave up without an answer")
