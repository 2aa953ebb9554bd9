package armature

// Every call into the C ABI (include/armature.h) is in this file, so the rest of the package is
// plain Go.
//
// The small C functions below batch what one Go step needs into one cgo crossing (about 30-70 ns
// each, docs/go.md): a take fetches each request's operationId too, and an answer adds the
// headers, responds and frees the request and responder. They only convert and sequence ABI
// calls; every rule (status checks, validation, problems) stays in core.

/*
// Where the header and libarmature.a come from is in link_prebuilt.go (the released module) and
// link_pkgconfig.go (a checkout, or a C tarball installed elsewhere: -tags armature_pkgconfig).
// None of these calls back into Go or keeps a pointer it was given past the call: cgo can skip
// the callback bookkeeping and leave their arguments on the Go stack (docs/go.md measures it).
#cgo noescape go_drain_take
#cgo nocallback go_drain_take
#cgo noescape armature_server_drain_end
#cgo nocallback armature_server_drain_end
#cgo noescape go_respond
#cgo nocallback go_respond
#cgo noescape armature_header_is_reserved
#cgo nocallback armature_header_is_reserved
#cgo noescape armature_default_operation_id
#cgo nocallback armature_default_operation_id
#cgo noescape go_finish
#cgo nocallback go_finish
#cgo noescape go_inject
#cgo nocallback go_inject
#cgo noescape go_request_text
#cgo nocallback go_request_text
#cgo noescape armature_request_identity_json
#cgo nocallback armature_request_identity_json
#cgo noescape armature_request_identity_subject
#cgo nocallback armature_request_identity_subject
#cgo noescape armature_request_body
#cgo nocallback armature_request_body
#cgo noescape armature_request_header
#cgo nocallback armature_request_header
#cgo noescape armature_request_header_count
#cgo nocallback armature_request_header_count
#cgo noescape armature_request_header_at
#cgo nocallback armature_request_header_at
#cgo noescape armature_request_param
#cgo nocallback armature_request_param
#cgo noescape armature_request_params_json
#cgo nocallback armature_request_params_json
#cgo noescape armature_responder_is_waiting
#cgo nocallback armature_responder_is_waiting
#cgo noescape armature_server_port
#cgo nocallback armature_server_port
#cgo noescape armature_server_request_timeout_ms
#cgo nocallback armature_server_request_timeout_ms
#include <stdlib.h>
#include <string.h>
#include "armature.h"

// One request taken from the queue, with what the dispatcher needs at once.
typedef struct {
	ArmatureRequest *request;
	ArmatureResponder *responder;
	ArmatureStr operation_id;
} GoPending;

#define GO_TAKE_BATCH 64

// armature_server_drain_take, plus each request's operationId. At most GO_TAKE_BATCH requests.
static ArmatureStatus go_drain_take(ArmatureServer *server, GoPending *out, size_t capacity, size_t *taken,
                                    ArmatureError **error) {
	ArmaturePending pending[GO_TAKE_BATCH];
	if (capacity > GO_TAKE_BATCH) capacity = GO_TAKE_BATCH;
	ArmatureStatus status = armature_server_drain_take(server, pending, capacity, taken, error);
	if (status != ARMATURE_STATUS_OK) return status;
	for (size_t i = 0; i < *taken; i++) {
		out[i].request = pending[i].request;
		out[i].responder = pending[i].responder;
		out[i].operation_id.ptr = NULL;
		out[i].operation_id.len = 0;
		// Cannot fail on a live request; an empty id then reaches no handler and fails it.
		armature_request_operation_id(pending[i].request, &out[i].operation_id, NULL);
	}
	return ARMATURE_STATUS_OK;
}

// Adds `count` headers, whose names and values lie one after the other in `data` with their
// lengths in `lengths` (name, value, name, value...), then answers (core's answer rule, with the
// body's `kind`), then frees the request and the responder, and sets *freed. An answer the rule
// refuses (a framing header, a second content type, a bad status) returns its error before
// anything is sent, and frees nothing: the caller then fails the request.
static ArmatureStatus go_respond(ArmatureRequest *request, ArmatureResponder *responder, uint16_t status,
                                 ArmatureBody kind, const uint8_t *content_type, size_t content_type_len,
                                 const uint8_t *body, size_t body_len,
                                 const uint8_t *data, const size_t *lengths, size_t count,
                                 int *freed, ArmatureError **error) {
	*freed = 0;
	const uint8_t *at = data;
	for (size_t i = 0; i < count; i++) {
		size_t name_len = lengths[2 * i], value_len = lengths[2 * i + 1];
		ArmatureStatus added = armature_responder_add_header(responder, at, name_len, at + name_len, value_len, error);
		if (added != ARMATURE_STATUS_OK) return added;
		at += name_len + value_len;
	}
	ArmatureStatus sent = armature_responder_answer(responder, status, kind, content_type, content_type_len, body, body_len, error);
	if (sent == ARMATURE_STATUS_INVALID_ARGUMENT) return sent; // an answer the rule refuses
	armature_responder_free(responder);
	armature_request_free(request);
	*freed = 1;
	return sent;
}

// Refuses (kind 0, with status and detail), fails (kind 1, with a message) or abandons (kind 2:
// core answers 500 no-response) the request, then frees the request and the responder.
static ArmatureStatus go_finish(ArmatureRequest *request, ArmatureResponder *responder, int kind, uint16_t status,
                                const uint8_t *text, size_t text_len, ArmatureError **error) {
	ArmatureStatus result = ARMATURE_STATUS_OK;
	if (kind == 0) {
		result = armature_responder_refuse(responder, status, text, text_len, error);
	}
	if (kind == 1 || (kind == 0 && result == ARMATURE_STATUS_INVALID_ARGUMENT)) {
		result = armature_responder_fail(responder, text, text_len, kind == 1 ? error : NULL);
	}
	armature_responder_free(responder);
	armature_request_free(request);
	return result;
}

// One of the request's text accessors, by number (the GO_TEXT_* below), so that Go has one
// function for all of them instead of one closure each.
enum { GO_TEXT_METHOD, GO_TEXT_PATH, GO_TEXT_QUERY, GO_TEXT_REQUEST_ID, GO_TEXT_TRACE_ID, GO_TEXT_SPAN_ID,
       GO_TEXT_TRACEPARENT };

static ArmatureStatus go_request_text(const ArmatureRequest *request, int which, ArmatureStr *out) {
	switch (which) {
	case GO_TEXT_METHOD: return armature_request_method(request, out, NULL);
	case GO_TEXT_PATH: return armature_request_path(request, out, NULL);
	case GO_TEXT_QUERY: return armature_request_query(request, out, NULL);
	case GO_TEXT_REQUEST_ID: return armature_request_request_id(request, out, NULL);
	case GO_TEXT_TRACE_ID: return armature_request_trace_id(request, out, NULL);
	case GO_TEXT_SPAN_ID: return armature_request_span_id(request, out, NULL);
	default: return armature_request_traceparent(request, out, NULL);
	}
}

// The in-process request of armaturetest, with its header lines built in C memory from the
// same packed form as go_respond's (cgo forbids Go memory holding Go pointers).
static ArmatureStatus go_inject(ArmatureServer *server, const uint8_t *method, size_t method_len,
                                const uint8_t *target, size_t target_len,
                                const uint8_t *data, const size_t *lengths, size_t count,
                                const uint8_t *body, size_t body_len,
                                ArmatureResponse **out, ArmatureError **error) {
	ArmatureHeaderLine *lines = count ? calloc(count, sizeof(ArmatureHeaderLine)) : NULL;
	if (count && !lines) return ARMATURE_STATUS_IO;
	const uint8_t *at = data;
	for (size_t i = 0; i < count; i++) {
		lines[i].name.ptr = at;
		lines[i].name.len = lengths[2 * i];
		at += lengths[2 * i];
		lines[i].value.ptr = at;
		lines[i].value.len = lengths[2 * i + 1];
		at += lengths[2 * i + 1];
	}
	ArmatureStatus status = armature_server_inject(server, method, method_len, target, target_len, lines, count,
	                                               body, body_len, out, error);
	free(lines);
	return status;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"unsafe"
)

// abiVersion is the ABI version of the library this package is linked with.
func abiVersion() uint32 { return uint32(C.armature_abi_version()) }

// headerABIVersion is the ABI version of the header this package was compiled against.
const headerABIVersion = uint32(C.ARMATURE_ABI_VERSION)

// Status codes of the C ABI this package tells apart.
const (
	statusOK         = C.ARMATURE_STATUS_OK
	statusNotFound   = C.ARMATURE_STATUS_NOT_FOUND
	statusClosed     = C.ARMATURE_STATUS_CLOSED
	statusGone       = C.ARMATURE_STATUS_GONE
	statusRunning    = C.ARMATURE_STATUS_RUNNING
	statusNotStarted = C.ARMATURE_STATUS_NOT_STARTED
)

// Error is a failure reported by the core through the C ABI.
type Error struct {
	// Status is the ABI's status code (ARMATURE_STATUS_*), Name its name (`CONTRACT`, `CONFIG`...).
	Status int
	Name   string
	// Message is the core's explanation.
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("armature: %s: %s", e.Name, e.Message) }

// check turns a status and its error object into a Go error, freeing the error object.
func check(status C.ArmatureStatus, err *C.ArmatureError) error {
	if status == statusOK {
		return nil
	}
	name := strings.TrimPrefix(C.GoString(C.armature_status_name(status)), "ARMATURE_STATUS_")
	e := &Error{Status: int(status), Name: name}
	if err != nil {
		e.Message = C.GoString(C.armature_error_message(err))
		C.armature_error_free(err)
	}
	return e
}

// isStatus says whether err is the core's error with this status.
func isStatus(err error, status C.ArmatureStatus) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == int(status)
}

// bytesPtr is the first byte of b for C, which reads len(b) bytes; NULL when b is empty.
func bytesPtr(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b)))
}

// stringPtr is the first byte of s for C, which reads len(s) bytes without keeping them.
func stringPtr(s string) *C.uint8_t {
	if len(s) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s)))
}

// goString copies bytes the core lent (valid until the request is freed) into a Go string.
func goString(s C.ArmatureStr) string {
	if s.len == 0 {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(s.ptr)), C.int(s.len))
}

func goBytes(s C.ArmatureStr) []byte {
	if s.len == 0 {
		return []byte{}
	}
	return C.GoBytes(unsafe.Pointer(s.ptr), C.int(s.len))
}

// packed lays header names and values out for go_respond and go_inject: the bytes one after
// the other, and their lengths.
type packed struct {
	data    []byte
	lengths []C.size_t
}

func (p *packed) add(name, value string) {
	p.data = append(p.data, name...)
	p.data = append(p.data, value...)
	p.lengths = append(p.lengths, C.size_t(len(name)), C.size_t(len(value)))
}

func (p *packed) count() C.size_t { return C.size_t(len(p.lengths) / 2) }

func (p *packed) lengthsPtr() *C.size_t {
	if len(p.lengths) == 0 {
		return nil
	}
	return unsafe.SliceData(p.lengths)
}

// ---- configuration and contract ----

type nativeConfig struct{ c *C.ArmatureConfig }

func loadConfig(path string) (*nativeConfig, error) {
	var out *C.ArmatureConfig
	var err *C.ArmatureError
	var status C.ArmatureStatus
	if path == "" {
		status = C.armature_config_new(&out, &err)
	} else {
		status = C.armature_config_from_file(stringPtr(path), C.size_t(len(path)), &out, &err)
	}
	if e := check(status, err); e != nil {
		return nil, e
	}
	return &nativeConfig{out}, nil
}

func (c *nativeConfig) setAddress(host string, port uint16) error {
	var err *C.ArmatureError
	return check(C.armature_config_set_address(c.c, stringPtr(host), C.size_t(len(host)), C.uint16_t(port), &err), err)
}

func (c *nativeConfig) free() { C.armature_config_free(c.c) }

type nativeContract struct{ c *C.ArmatureContract }

func loadContract(path string) (*nativeContract, error) {
	var out *C.ArmatureContract
	var err *C.ArmatureError
	if e := check(C.armature_contract_from_file(stringPtr(path), C.size_t(len(path)), &out, &err), err); e != nil {
		return nil, e
	}
	return &nativeContract{out}, nil
}

// withOperations is base (nil: an empty contract) plus the operations declared in code.
func withOperations(base *nativeContract, operationsJSON []byte) (*nativeContract, error) {
	var b *C.ArmatureContract
	if base != nil {
		b = base.c
	}
	var out *C.ArmatureContract
	var err *C.ArmatureError
	status := C.armature_contract_with_operations(b, bytesPtr(operationsJSON), C.size_t(len(operationsJSON)), &out, &err)
	if e := check(status, err); e != nil {
		return nil, e
	}
	return &nativeContract{out}, nil
}

func (c *nativeContract) operationIDsJSON() ([]byte, error) {
	var out C.ArmatureStr
	var err *C.ArmatureError
	if e := check(C.armature_contract_operation_ids_json(c.c, &out, &err), err); e != nil {
		return nil, e
	}
	return goBytes(out), nil
}

func (c *nativeContract) free() { C.armature_contract_free(c.c) }

// ---- server ----

type nativeServer struct{ c *C.ArmatureServer }

func newServer(config *nativeConfig, contract *nativeContract) (*nativeServer, error) {
	var c *C.ArmatureContract // NULL: the configuration's contract.path
	if contract != nil {
		c = contract.c
	}
	var out *C.ArmatureServer
	var err *C.ArmatureError
	if e := check(C.armature_server_new(config.c, c, &out, &err), err); e != nil {
		return nil, e
	}
	return &nativeServer{out}, nil
}

func (s *nativeServer) setQueued(operationID string) error {
	var err *C.ArmatureError
	return check(C.armature_server_set_queued(s.c, stringPtr(operationID), C.size_t(len(operationID)), &err), err)
}

func (s *nativeServer) start() error {
	var err *C.ArmatureError
	return check(C.armature_server_start(s.c, &err), err)
}

func (s *nativeServer) port() (int, error) {
	var port C.uint16_t
	var err *C.ArmatureError
	if e := check(C.armature_server_port(s.c, &port, &err), err); e != nil {
		return 0, e
	}
	return int(port), nil
}

func (s *nativeServer) requestTimeoutMS() (uint64, error) {
	var ms C.uint64_t
	var err *C.ArmatureError
	if e := check(C.armature_server_request_timeout_ms(s.c, &ms, &err), err); e != nil {
		return 0, e
	}
	return uint64(ms), nil
}

func (s *nativeServer) shutdown() error {
	var err *C.ArmatureError
	return check(C.armature_server_shutdown(s.c, &err), err)
}

func (s *nativeServer) reload() error {
	var err *C.ArmatureError
	return check(C.armature_server_reload(s.c, &err), err)
}

// wait blocks an OS thread until the server has stopped: called once per server, by the
// goroutine that runs ListenAndServe or Shutdown.
func (s *nativeServer) wait() error {
	var err *C.ArmatureError
	return check(C.armature_server_wait(s.c, &err), err)
}

// free frees a server that never started or has stopped; a running one is refused.
func (s *nativeServer) free() error {
	var err *C.ArmatureError
	return check(C.armature_server_free(s.c, &err), err)
}

// queueFile is a duplicate of the queue's pollable descriptor, as an *os.File that Go's
// netpoller watches (the descriptor is non-blocking, so os.NewFile registers it). A duplicate,
// because the server owns its descriptor and closing the file closes ours only.
func (s *nativeServer) queueFile() (*os.File, error) {
	var fd C.int
	var err *C.ArmatureError
	if e := check(C.armature_server_queue_fd(s.c, &fd, &err), err); e != nil {
		return nil, e
	}
	dup, e := dupCloexec(int(fd))
	if e != nil {
		return nil, fmt.Errorf("armature: duplicating the queue descriptor: %w", e)
	}
	return os.NewFile(uintptr(dup), "armature-queue"), nil
}

func dupCloexec(fd int) (int, error) {
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return -1, errno
	}
	return int(dup), nil
}

// pending is a request taken from the queue: it and its responder are this package's until
// answer, finish or drop frees them.
type pending struct {
	request     *C.ArmatureRequest
	responder   *C.ArmatureResponder
	operationID string
}

// takeBatch is how many requests one drainTake takes at most.
const takeBatch = C.GO_TAKE_BATCH

// drainTake appends up to capacity (at most takeBatch) waiting requests to into, and begins
// (or goes on with) a drain: until drainEnd the core does not signal the queue's descriptor.
// closed once the server has stopped and the queue is empty.
func (s *nativeServer) drainTake(into []pending, capacity int) (taken []pending, closed bool, e error) {
	var batch [C.GO_TAKE_BATCH]C.GoPending
	var n C.size_t
	var err *C.ArmatureError
	status := C.go_drain_take(s.c, &batch[0], C.size_t(capacity), &n, &err)
	if status == statusClosed {
		check(status, err)
		return into, true, nil
	}
	if e := check(status, err); e != nil {
		return into, false, e
	}
	for i := 0; i < int(n); i++ {
		p := &batch[i]
		into = append(into, pending{p.request, p.responder, goString(p.operation_id)})
	}
	return into, false, nil
}

// drainEnd ends a drain: idle when the drain may now wait on the descriptor, false when
// requests arrived meanwhile (or the queue closed) and must be taken first.
func (s *nativeServer) drainEnd() (idle bool, e error) {
	var ended C.int
	var err *C.ArmatureError
	if e := check(C.armature_server_drain_end(s.c, &ended, &err), err); e != nil {
		return false, e
	}
	return ended == 1, nil
}

// respond sends the answer and frees the request and responder (freed). A header or status
// the core refuses is returned with nothing sent or freed, for the caller to fail the request.
// Body kinds of respond, for the core's answer rule: nothing returned (a nil response: 200
// becomes 204), or a body sent as given with the content type named (or none).
const (
	bodyNothing C.ArmatureBody = C.ARMATURE_BODY_NOTHING
	bodyExact   C.ArmatureBody = C.ARMATURE_BODY_EXACT
)

func (p *pending) respond(status int, kind C.ArmatureBody, contentType string, body []byte, headers *packed) (freed bool, e error) {
	if headers == nil {
		headers = &packed{}
	}
	var err *C.ArmatureError
	var done C.int
	result := C.go_respond(p.request, p.responder, C.uint16_t(status), kind, stringPtr(contentType), C.size_t(len(contentType)),
		bytesPtr(body), C.size_t(len(body)), bytesPtr(headers.data), headers.lengthsPtr(), headers.count(), &done, &err)
	return done != 0, checkAnswer(result, err)
}

// isReservedHeader says whether name (any case) is a header the core writes itself (body
// framing, connection management), which a handler may not set.
func isReservedHeader(name string) bool {
	return bool(C.armature_header_is_reserved(stringPtr(name), C.size_t(len(name))))
}

// defaultOperationID is the operationId the core gives a route declared without one:
// `GET /users/{id}` is `getUsersById`, as in every binding.
func defaultOperationID(method, path string) string {
	buffer := make([]byte, len(method)+2*len(path)+2)
	var length C.size_t
	if C.armature_default_operation_id(stringPtr(method), C.size_t(len(method)), stringPtr(path), C.size_t(len(path)),
		(*C.uint8_t)(unsafe.Pointer(&buffer[0])), C.size_t(len(buffer)), &length, nil) != statusOK {
		// Never for UTF-8 text in a buffer this size (the id is at most method + path + one
		// byte per `{`); a route then gets an id that no other route has, whatever it is.
		return method + " " + path
	}
	return string(buffer[:length])
}

// checkAnswer is check for an answer: GONE (the request stopped waiting, timed out or its
// client gone; the answer is dropped and the responder finished) is nothing to report.
func checkAnswer(status C.ArmatureStatus, err *C.ArmatureError) error {
	if e := check(status, err); e != nil && status != statusGone {
		return e
	}
	return nil
}

const (
	finishRefuse = 0
	finishFail   = 1
	finishDrop   = 2
)

// finish refuses (status, detail), fails (message) or drops the request, and frees it.
func (p *pending) finish(kind int, status int, text string) error {
	var err *C.ArmatureError
	result := C.go_finish(p.request, p.responder, C.int(kind), C.uint16_t(status), stringPtr(text), C.size_t(len(text)), &err)
	return checkAnswer(result, err)
}

// isWaiting says whether the pipeline still waits for this request's answer (false once it
// has timed out or the client has gone).
func (p *pending) isWaiting() bool {
	var waiting C.bool
	if C.armature_responder_is_waiting(p.responder, &waiting, nil) != statusOK {
		return false
	}
	return bool(waiting)
}

// ---- request accessors: each copies what the core lends, so values outlive the request ----

// text reads one of the request's text accessors (a GO_TEXT_* value); "" if it fails.
func (p *pending) text(which C.int) string {
	var out C.ArmatureStr
	if C.go_request_text(p.request, which, &out) != statusOK {
		return ""
	}
	return goString(out)
}

func (p *pending) method() string    { return p.text(C.GO_TEXT_METHOD) }
func (p *pending) path() string      { return p.text(C.GO_TEXT_PATH) }
func (p *pending) query() string     { return p.text(C.GO_TEXT_QUERY) }
func (p *pending) requestID() string { return p.text(C.GO_TEXT_REQUEST_ID) }
func (p *pending) traceID() string   { return p.text(C.GO_TEXT_TRACE_ID) }
func (p *pending) spanID() string    { return p.text(C.GO_TEXT_SPAN_ID) }

// outgoingTraceparent is a traceparent for one outgoing call: this trace, a new span id.
func (p *pending) outgoingTraceparent() string {
	var buffer [C.ARMATURE_TRACEPARENT_LEN]byte
	if C.armature_request_outgoing_traceparent(p.request, (*C.uint8_t)(unsafe.Pointer(&buffer[0])),
		C.size_t(len(buffer)), nil) != statusOK {
		return ""
	}
	return string(buffer[:])
}

func (p *pending) tracestate() string {
	var out C.ArmatureStr
	if C.armature_request_tracestate(p.request, &out, nil) != statusOK {
		return ""
	}
	return goString(out)
}

func (p *pending) traceFlags() byte {
	var flags C.uint8_t
	if C.armature_request_trace_flags(p.request, &flags, nil) != statusOK {
		return 0
	}
	return byte(flags)
}

// OutgoingCall is one outgoing call made while handling a request, exported as a client span of
// that request when it ends and the request's span is recorded (see Request.BeginCall). Its
// methods are safe to call from any goroutine, but End only once the others have returned.
type OutgoingCall struct {
	mu   sync.Mutex
	call *C.ArmatureOutgoingCall // nil once ended
}

func (p *pending) beginCall(name, method, url string) (*OutgoingCall, error) {
	var call *C.ArmatureOutgoingCall
	var err *C.ArmatureError
	status := C.armature_request_begin_call(p.request, stringPtr(name), C.size_t(len(name)), stringPtr(method),
		C.size_t(len(method)), stringPtr(url), C.size_t(len(url)), &call, &err)
	if e := check(status, err); e != nil {
		return nil, e
	}
	return &OutgoingCall{call: call}, nil
}

// Header is what to send on the call: `traceparent` with the call's own span id and, when the
// request had one, `tracestate`. Empty once the call has ended.
func (c *OutgoingCall) Header() http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	header := http.Header{}
	if c.call == nil {
		return header
	}
	var buffer [C.ARMATURE_TRACEPARENT_LEN]byte
	if C.armature_outgoing_call_traceparent(c.call, (*C.uint8_t)(unsafe.Pointer(&buffer[0])), C.size_t(len(buffer)), nil) == statusOK {
		header.Set("Traceparent", string(buffer[:]))
	}
	var tracestate C.ArmatureStr
	if C.armature_outgoing_call_tracestate(c.call, &tracestate, nil) == statusOK {
		header.Set("Tracestate", goString(tracestate))
	}
	return header
}

// Recording says whether the call is exported as a client span (the request's span is recorded).
func (c *OutgoingCall) Recording() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.call != nil && C.armature_outgoing_call_is_recording(c.call) == 1
}

// End ends the call now, exporting its span when the request is recorded: status is the answer's
// status code (0 when no answer came), errorType why it failed (OpenTelemetry's error.type,
// e.g. "timeout"; "" when it did not). Later calls do nothing.
func (c *OutgoingCall) End(status int, errorType string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.call == nil {
		return
	}
	C.armature_outgoing_call_end(c.call, C.uint16_t(status), stringPtr(errorType), C.size_t(len(errorType)))
	c.call = nil
}

func (p *pending) identityJSON() []byte {
	var out C.ArmatureStr
	if C.armature_request_identity_json(p.request, &out, nil) != statusOK {
		return nil
	}
	return goBytes(out)
}

func (p *pending) subject() (string, bool) {
	var out C.ArmatureStr
	if C.armature_request_identity_subject(p.request, &out, nil) != statusOK {
		return "", false
	}
	return goString(out), true
}

func (p *pending) body() []byte {
	var out C.ArmatureStr
	if C.armature_request_body(p.request, &out, nil) != statusOK {
		return []byte{}
	}
	return goBytes(out)
}

func (p *pending) header(name string) (string, bool) {
	var out C.ArmatureStr
	if C.armature_request_header(p.request, stringPtr(name), C.size_t(len(name)), &out, nil) != statusOK {
		return "", false
	}
	return goString(out), true
}

// headers calls add for every header line, in the core's order (lines of one name together).
func (p *pending) headers(add func(name, value string)) {
	var count C.size_t
	if C.armature_request_header_count(p.request, &count, nil) != statusOK {
		return
	}
	for i := C.size_t(0); i < count; i++ {
		var name, value C.ArmatureStr
		if C.armature_request_header_at(p.request, i, &name, &value, nil) != statusOK {
			return
		}
		add(goString(name), goString(value))
	}
}

// Where a parameter comes from.
const (
	locationPath   = C.ARMATURE_PARAM_PATH
	locationQuery  = C.ARMATURE_PARAM_QUERY
	locationHeader = C.ARMATURE_PARAM_HEADER
	locationCookie = C.ARMATURE_PARAM_COOKIE
)

func (p *pending) param(location uint32, name string) (string, bool) {
	var out C.ArmatureStr
	if C.armature_request_param(p.request, C.ArmatureParamLocation(location), stringPtr(name), C.size_t(len(name)), &out, nil) != statusOK {
		return "", false
	}
	return goString(out), true
}

func (p *pending) paramsJSON(location uint32) []byte {
	var out C.ArmatureStr
	if C.armature_request_params_json(p.request, C.ArmatureParamLocation(location), &out, nil) != statusOK {
		return []byte("{}")
	}
	return goBytes(out)
}

// ---- in-process requests (armaturetest) ----

// injected is an in-process answer, copied out of the core.
type injected struct {
	status  int
	headers [][2]string
	body    []byte
}

func (s *nativeServer) inject(method, target string, headers *packed, body []byte) (*injected, error) {
	var out *C.ArmatureResponse
	var err *C.ArmatureError
	status := C.go_inject(s.c, stringPtr(method), C.size_t(len(method)), stringPtr(target), C.size_t(len(target)),
		bytesPtr(headers.data), headers.lengthsPtr(), headers.count(), bytesPtr(body), C.size_t(len(body)), &out, &err)
	if e := check(status, err); e != nil {
		return nil, e
	}
	defer C.armature_response_free(out)
	var code C.uint16_t
	C.armature_response_status(out, &code, nil)
	answer := &injected{status: int(code)}
	var count C.size_t
	C.armature_response_header_count(out, &count, nil)
	for i := C.size_t(0); i < count; i++ {
		var name, value C.ArmatureStr
		if C.armature_response_header_at(out, i, &name, &value, nil) == statusOK {
			answer.headers = append(answer.headers, [2]string{goString(name), goString(value)})
		}
	}
	var b C.ArmatureStr
	C.armature_response_body(out, &b, nil)
	answer.body = goBytes(b)
	return answer, nil
}
