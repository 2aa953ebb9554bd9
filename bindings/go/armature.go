// Package armature serves an OpenAPI contract with Go handlers behind Armature's whole
// pipeline: routing by the contract, request id, W3C trace context, identity (JWT, API keys,
// mTLS), Rego authorization, request and response validation, RFC 9457 problems, logs and
// metrics, all run by the Rust core through its C ABI (include/armature.h, libarmature.a).
//
// Handlers are plain functions of a context and a request:
//
//	app, err := armature.New(armature.Options{Contract: "openapi.yaml", Config: "armature.yaml"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	app.Operation("getUser", func(ctx context.Context, r *armature.Request) (*armature.Response, error) {
//		return armature.JSON(200, map[string]any{"id": r.Param("id")}), nil
//	})
//	log.Fatal(app.ListenAndServe(":8080"))
//
// The core owns the socket and HTTP; requests reach Go through the core's queue, which a
// goroutine watches in Go's netpoller (no C-to-Go callback, no thread parked in C per
// request). docs/go.md has the whole guide.
package armature

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// Options says what an App serves. Both fields are optional.
type Options struct {
	// Contract is the path of the OpenAPI 3.0/3.1 document (YAML or JSON). Without it the
	// service serves only the operations declared in code with Handle.
	Contract string
	// Config is the path of the configuration file (YAML, JSON or TOML). Without it, the
	// embedded defaults, with ARMATURE_* environment overrides on top (ARMATURE_CONFIG names a
	// file to read first).
	Config string
	// MaxConcurrency is how many handlers may run at once (DefaultMaxConcurrency when 0).
	// Beyond it requests wait in the core's queue, and past server.queue_capacity waiting
	// requests the core answers 503 `overloaded`, as for every binding.
	MaxConcurrency int
}

// DefaultMaxConcurrency is the number of handlers that may run at once unless
// Options.MaxConcurrency says otherwise.
const DefaultMaxConcurrency = 4096

// HandlerFunc answers one request. Returning a nil Response answers 204 No Content (or the
// operation's Status for Handle). A Refuse error is an intended refusal, shown to the client
// as a `refused` problem; ctx.Err() (the request timed out or the client went away) leaves the
// request unanswered, which core answers itself; any other error, or a panic, is the 500
// `handler-error` problem, its message logged and never shown.
type HandlerFunc func(ctx context.Context, r *Request) (*Response, error)

// ErrServerClosed is returned by ListenAndServe after Shutdown or Close, as net/http does.
var ErrServerClosed = errors.New("armature: server closed")

// App is one service: a contract, a configuration and the handlers bound to its operations.
// Its methods are safe for concurrent use; handlers are added before the service starts.
type App struct {
	config   *nativeConfig
	contract *nativeContract // as loaded; nil without Options.Contract

	mu        sync.Mutex
	handlers  map[string]route
	declared  []operationSpec // operations added in code, in order
	server    *nativeServer   // built on first use (start or in-process request)
	queue     *os.File        // the server's queue descriptor, watched by drain
	served    *nativeContract // the contract the server serves (contract + declared)
	buildErr  error
	listening bool
	closed    bool
	stopped   chan struct{} // closed once the queue is drained, every handler returned and wait returned
	waited    chan struct{} // closed when armature_server_wait returns; nil unless listening
	timeout   uint64        // server.request_timeout_ms
	slots     chan struct{} // one element per running handler, MaxConcurrency at most
	closing   atomic.Bool   // the queue descriptor is closed on purpose
	inFlight  sync.WaitGroup
	deadlines deadlines // of the running handlers' contexts
	workers   workers   // handler goroutines, reused
}

// New loads the contract and the configuration. It fails with the core's message when a file
// is missing or invalid, and when the linked library was built for another ABI than this
// package's header.
func New(options Options) (*App, error) {
	if err := checkABI(abiVersion(), headerABIVersion); err != nil {
		return nil, err
	}
	config, err := loadConfig(options.Config)
	if err != nil {
		return nil, err
	}
	concurrency := options.MaxConcurrency
	if concurrency <= 0 {
		concurrency = DefaultMaxConcurrency
	}
	app := &App{config: config, handlers: map[string]route{}, stopped: make(chan struct{}),
		slots: make(chan struct{}, concurrency)}
	if options.Contract != "" {
		if app.contract, err = loadContract(options.Contract); err != nil {
			config.free()
			return nil, err
		}
	}
	return app, nil
}

// checkABI refuses a library built for another header than the one this package was compiled
// against: their structs and functions may differ, and calls would corrupt memory.
func checkABI(library, header uint32) error {
	if library != header {
		return fmt.Errorf("armature: the linked libarmature has C ABI version %d, but this Go package was built "+
			"for version %d: rebuild the library and the package from the same Armature release", library, header)
	}
	return nil
}

// Operation binds handler to the contract's operation operationID. It panics, as
// net/http.ServeMux does for a conflicting pattern, when the operation already has a handler or
// the service has started; an operationID the contract does not have is reported by
// ListenAndServe (and by the first in-process request).
func (a *App) Operation(operationID string, handler HandlerFunc) {
	a.bind(operationID, route{handler: handler, status: 200}, nil)
}

// route is a handler and the status of its nil responses.
type route struct {
	handler HandlerFunc
	status  int
}

// bind registers a handler (and, for Handle, the operation it declares), or panics on misuse.
func (a *App) bind(operationID string, r route, declared *operationSpec) {
	if r.handler == nil {
		panic("armature: nil handler for operation " + strconv.Quote(operationID))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.server != nil {
		panic("armature: operation " + strconv.Quote(operationID) + " added after the service started")
	}
	if _, taken := a.handlers[operationID]; taken {
		panic("armature: operation " + strconv.Quote(operationID) + " already has a handler")
	}
	a.handlers[operationID] = r
	if declared != nil {
		a.declared = append(a.declared, *declared)
	}
}

// OperationIDs lists the served contract's operations (from the file and from Handle), in
// document order: with HTTPHandler, one net/http handler can serve them all.
func (a *App) OperationIDs() ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	contract, err := a.servedContract()
	if err != nil {
		return nil, err
	}
	if contract == nil {
		return nil, errors.New("armature: OperationIDs needs Options.Contract or operations declared with Handle")
	}
	if contract != a.served && contract != a.contract {
		defer contract.free() // made for this call: the server makes its own when it starts
	}
	text, err := contract.operationIDsJSON()
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := json.Unmarshal(text, &ids); err != nil {
		return nil, fmt.Errorf("armature: the core's operation list: %w", err)
	}
	return ids, nil
}

// servedContract is the contract with the operations declared so far. Called with a.mu held.
func (a *App) servedContract() (*nativeContract, error) {
	if a.served != nil {
		return a.served, nil
	}
	if len(a.declared) == 0 {
		// nil: the server reads the configuration's contract.path.
		return a.contract, nil
	}
	operations, err := json.Marshal(a.declared)
	if err != nil {
		return nil, fmt.Errorf("armature: the operations declared with Handle: %w", err)
	}
	return withOperations(a.contract, operations)
}

// build makes the server once: the served contract, the configuration (with the address of
// ListenAndServe, if any), every handler registered. Called with a.mu held.
func (a *App) build(host string, port uint16, listen bool) error {
	if a.closed {
		return ErrServerClosed
	}
	if a.server != nil || a.buildErr != nil {
		return a.buildErr
	}
	a.buildErr = a.buildServer(host, port, listen)
	return a.buildErr
}

func (a *App) buildServer(host string, port uint16, listen bool) error {
	contract, err := a.servedContract()
	if err != nil {
		return err
	}
	a.served = contract
	if listen {
		if err := a.config.setAddress(host, port); err != nil {
			return err
		}
	}
	server, err := newServer(a.config, contract)
	if err != nil {
		return err
	}
	for id := range a.handlers {
		if err := server.setQueued(id); err != nil {
			server.free()
			return err
		}
	}
	if a.timeout, err = server.requestTimeoutMS(); err != nil {
		server.free()
		return err
	}
	queue, err := server.queueFile()
	if err != nil {
		server.free()
		return err
	}
	a.server, a.queue = server, queue
	go a.drain(server, queue)
	return nil
}

// Start listens on addr (`host:port`; an empty host keeps the configured one, port 0 picks a
// free port, see Port) and returns once the socket is bound. Requests are served until
// Shutdown or Close. An empty addr keeps the configured server.host and server.port.
func (a *App) Start(addr string) error {
	host, port, err := splitAddr(addr)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrServerClosed
	}
	if a.listening {
		return errors.New("armature: the service is already listening")
	}
	if a.server != nil && addr != "" {
		// The address is part of the server the first in-process request built; it cannot move.
		return fmt.Errorf("armature: Start(%q) after an in-process request: the address is fixed when the "+
			"service is first used; call Start before Inject, or Start(\"\") for the configured address", addr)
	}
	if err := a.build(host, port, addr != ""); err != nil {
		return err
	}
	if err := a.server.start(); err != nil {
		return err
	}
	a.listening = true
	a.waited = make(chan struct{})
	// One OS thread waits in C for the server to stop, then the core closes the queue and the
	// drain ends; the only thread the package keeps in C. The drain reports the stop only after
	// this call has returned: the core closes the queue inside it, and freeing the server while
	// the call is still unwinding would corrupt memory.
	go func(server *nativeServer, waited chan struct{}) {
		defer close(waited)
		if err := server.wait(); err != nil {
			log.Printf("armature: waiting for the server to stop: %v", err)
		}
	}(a.server, a.waited)
	return nil
}

func splitAddr(addr string) (string, uint16, error) {
	if addr == "" {
		return "", 0, nil
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("armature: address %q: %w", addr, err)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("armature: address %q: port %q is not a number from 0 to 65535", addr, portText)
	}
	return host, uint16(port), nil
}

// ListenAndServe listens on addr (as Start) and serves until Shutdown or Close, then returns
// ErrServerClosed once every request in flight has been answered. It does not handle signals:
// call Shutdown from your SIGTERM handler (see the example in docs/go.md).
func (a *App) ListenAndServe(addr string) error {
	if err := a.Start(addr); err != nil {
		return err
	}
	<-a.stopped
	return ErrServerClosed
}

// Port is the port the service listens on (useful with port 0); 0 before Start.
func (a *App) Port() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.server == nil || !a.listening {
		return 0
	}
	port, err := a.server.port()
	if err != nil {
		return 0
	}
	return port
}

// Shutdown drains gracefully: /ready turns false, after server.drain_delay_ms the listener
// closes, and requests in flight get server.shutdown_grace_ms to finish. It returns once the
// server has stopped and every handler has returned, or with ctx's error if ctx ends first
// (the drain goes on). Then ListenAndServe returns ErrServerClosed.
func (a *App) Shutdown(ctx context.Context) error {
	a.mu.Lock()
	server, queue, listening := a.server, a.queue, a.listening
	a.closed = true
	a.mu.Unlock()
	if server == nil {
		return nil
	}
	if listening {
		if err := server.shutdown(); err != nil {
			return err
		}
	} else {
		// Only in-process requests were served: no server to stop, the drain just ends.
		a.closing.Store(true)
		queue.Close()
	}
	select {
	case <-a.stopped:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Reload re-reads the files the configuration names for identity (JWT key and JWKS files, Basic
// users), authorization (Rego policies and data) and HTTPS (certificate and key), and swaps them
// in at once, as SIGHUP does: requests in flight finish on the old set. When one cannot be used
// nothing changes and the error (an *Error named RELOAD) names the file. Blocks while the
// policy compiles. Before Start it does nothing: the files are read then.
func (a *App) Reload() error {
	a.mu.Lock()
	server := a.server
	a.mu.Unlock()
	if server == nil {
		return nil
	}
	return server.reload()
}

// Close shuts down (as Shutdown, without a deadline) and frees the core's resources. The App
// cannot be used afterwards.
func (a *App) Close() error {
	err := a.Shutdown(context.Background())
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed && a.server == nil && a.config == nil {
		return err
	}
	a.closed = true
	if a.server != nil {
		if e := a.server.free(); e != nil && err == nil {
			err = e
		}
		a.server = nil
	}
	if a.served != nil && a.served != a.contract {
		a.served.free()
	}
	a.served = nil
	if a.contract != nil {
		a.contract.free()
		a.contract = nil
	}
	if a.config != nil {
		a.config.free()
		a.config = nil
	}
	return err
}
