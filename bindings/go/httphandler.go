package armature

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
)

// HTTPHandler serves an existing net/http handler behind the pipeline, unchanged: bind it to
// the operations it implements (app.Operation(id, armature.HTTPHandler(mux)), or every one
// from OperationIDs). The core has routed, authenticated, authorized and validated the request
// before h sees it; what h writes is buffered, then validated against the contract as any
// response.
//
// The *http.Request has the method, URL (path and query as received), headers, Host and body
// of the client's request, and its context carries the Armature request (FromContext: request
// id, trace ids, identity) and the request timeout's deadline. RemoteAddr is empty: the core
// owns the connection. Headers that frame the body or the connection (Content-Length,
// Transfer-Encoding, Connection...) are dropped from what h writes: the core frames every
// response itself. As with net/http, a body written without a Content-Type gets one sniffed
// by http.DetectContentType.
func HTTPHandler(h http.Handler) HandlerFunc {
	return func(ctx context.Context, r *Request) (*Response, error) {
		target := r.Path()
		if query := r.RawQuery(); query != "" {
			target += "?" + query
		}
		parsed, err := url.ParseRequestURI(target)
		if err != nil {
			return nil, err // the core has already parsed it; unreachable in practice
		}
		body := r.Body()
		request := (&http.Request{
			Method:        r.Method(),
			URL:           parsed,
			RequestURI:    target,
			Proto:         "HTTP/1.1",
			ProtoMajor:    1,
			ProtoMinor:    1,
			Header:        r.Headers(),
			Body:          http.NoBody,
			ContentLength: int64(len(body)),
		}).WithContext(ctx)
		if len(body) > 0 {
			request.Body = readCloser{bytes.NewReader(body)}
			request.GetBody = func() (io.ReadCloser, error) { return readCloser{bytes.NewReader(body)}, nil }
		}
		request.Host = request.Header.Get("Host")
		request.Header.Del("Host") // net/http moves it to Request.Host
		writer := &bufferedWriter{header: http.Header{}}
		h.ServeHTTP(writer, request)
		return writer.response(), nil
	}
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// bufferedWriter collects what a net/http handler writes.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *bufferedWriter) Header() http.Header { return w.header }

func (w *bufferedWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *bufferedWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *bufferedWriter) response() *Response {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	response := &Response{Status: status, Body: w.body.Bytes(), Header: http.Header{}}
	for name, values := range w.header {
		name = http.CanonicalHeaderKey(name)
		switch {
		// Headers the core writes itself (body framing, hop-by-hop): net/http handlers set
		// them freely, so they are dropped here rather than failing the request.
		case isReservedHeader(name):
		case name == "Content-Type":
			if len(values) > 0 {
				response.ContentType = values[0]
			}
		default:
			response.Header[name] = values
		}
	}
	if _, set := w.header["Content-Type"]; !set && response.ContentType == "" && len(response.Body) > 0 {
		response.ContentType = http.DetectContentType(response.Body)
	}
	return response
}
