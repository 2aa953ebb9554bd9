"""The application object: handlers bound to operations, and the ways to run them."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import threading
import types
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple, Type, TypeVar, Union, cast

from . import _native
from ._dispatch import THREAD_POOL_SIZE, Dispatcher, Operation
from ._lifespan import Lifespan, LifespanFunction
from ._params import _BODY, _COOKIE, _HEADER, _NAMED, _PATH, _QUERY, Signature, read_signature, return_annotation
from ._response import Response
from ._schema import mentions_model, schema_of

logger = logging.getLogger("armature")

F = TypeVar("F", bound=Callable[..., Any])
PathLike = Union[str, "os.PathLike[str]"]
Overrides = Mapping[Callable[..., Any], Callable[..., Any]]
# Derives one registered operation (its spec into the list, its Operation into the dict).
Derive = Callable[[Overrides, List[Dict[str, Any]], Dict[str, Operation]], None]


class _Routes:
    """``get``, ``post``, ``put``, ``patch`` and ``delete`` for anything with a ``route``."""

    def _declare(self, method: str, path: str, options: Dict[str, Any]) -> Callable[[F], F]:
        raise NotImplementedError

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("GET", path, ...)``."""
        return self._declare("GET", path, options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("POST", path, ...)``."""
        return self._declare("POST", path, options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("PUT", path, ...)``."""
        return self._declare("PUT", path, options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("PATCH", path, ...)``."""
        return self._declare("PATCH", path, options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("DELETE", path, ...)``."""
        return self._declare("DELETE", path, options)


class APIRouter(_Routes):
    """A group of code-first routes, FastAPI's ``APIRouter``: ``prefix`` goes before each path
    and ``tags`` on each operation. ``app.include_router(router)`` declares them on the app;
    a router may include other routers.

        users = APIRouter(prefix="/users", tags=["users"])

        @users.get("/{user_id}")
        def get_user(user_id: int) -> dict: ...

        app.include_router(users)
    """

    def __init__(
        self,
        *,
        prefix: str = "",
        tags: Optional[Sequence[str]] = None,
        dependencies: Optional[Sequence[Any]] = None,
    ) -> None:
        _check_prefix(prefix)
        self.prefix = prefix
        self.tags: List[str] = list(tags or [])
        self.dependencies: List[Any] = list(dependencies or [])
        self._routes: List[Tuple[str, str, Dict[str, Any], Callable[..., Any]]] = []

    def route(self, method: str, path: str, **options: Any) -> Callable[[F], F]:
        """Records the route; the app declares it (with the options of ``App.route``) when it
        includes this router."""
        return self._declare(method, path, options)

    def _declare(self, method: str, path: str, options: Dict[str, Any]) -> Callable[[F], F]:
        def record(handler: F) -> F:
            self._routes.append((method, path, options, handler))
            return handler

        return record

    def include_router(
        self,
        router: "APIRouter",
        *,
        prefix: str = "",
        tags: Optional[Sequence[str]] = None,
        dependencies: Optional[Sequence[Any]] = None,
    ) -> None:
        """Adds ``router``'s routes to this router, under ``prefix``, with ``tags`` and
        ``dependencies`` added."""
        _check_prefix(prefix)
        for method, path, options, handler in router._routes_with_own(prefix, tags, dependencies):
            self._routes.append((method, path, options, handler))

    def _routes_with_own(
        self, prefix: str, tags: Optional[Sequence[str]], dependencies: Optional[Sequence[Any]]
    ) -> List[Tuple[str, str, Dict[str, Any], Callable[..., Any]]]:
        routes = []
        for method, path, options, handler in self._routes:
            merged = dict(options)
            merged["tags"] = _merge_tags(list(tags or []), self.tags, list(options.get("tags") or []))
            # Outer first, as FastAPI solves them: the includer's, the router's, the route's.
            merged["dependencies"] = [*(dependencies or []), *self.dependencies, *(options.get("dependencies") or [])]
            routes.append((method, prefix + self.prefix + path, merged, handler))
        return routes


def _unique_operation_id(name: str, path: str, method: str) -> str:
    return re.sub(r"\W", "_", f"{name}{path}") + "_" + method.lower()


def _check_prefix(prefix: str) -> None:
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValueError(f"a router prefix starts with '/' and does not end with one: {prefix!r}")


def _merge_tags(*groups: List[str]) -> List[str]:
    merged: List[str] = []
    for group in groups:
        merged.extend(tag for tag in group if tag not in merged)
    return merged


class App(_Routes):
    """An Armature service: a contract, a configuration and Python handlers.

    ``contract`` is an OpenAPI file, or an already parsed document (a dict); without one, the
    configuration's ``contract.path`` is used, else the operations declared with ``@app.get``
    and friends make up the whole contract. ``config`` is a YAML, JSON or TOML file; without
    one, ``ARMATURE_CONFIG`` names it, else the embedded defaults apply. ``ARMATURE_*``
    environment variables override either (``ARMATURE_SERVER__PORT=9000``).

    ``lifespan`` is FastAPI's: a function of the app returning an async context manager,
    entered before the server accepts connections and exited after it has drained (so are
    ``@app.on_event("startup")``/``("shutdown")`` functions); a mapping it yields is set on
    ``app.state``. ``dependencies`` run before every operation's handler. Plain ``def``
    handlers, sync dependencies and background tasks run in a pool of ``thread_pool_size``
    threads, as in FastAPI; ``threadpool=False`` runs them inline on the event loop's thread
    (faster when they never block), and a route's ``threadpool=`` overrides the app's.
    ``dependency_overrides`` maps a dependency to the one to call instead (for tests).
    """

    def __init__(
        self,
        contract: Union[PathLike, Mapping[str, Any], None] = None,
        config: Optional[PathLike] = None,
        *,
        title: str = "Armature service",
        version: str = "0.1.0",
        lifespan: Optional[LifespanFunction] = None,
        dependencies: Optional[Sequence[Any]] = None,
        threadpool: bool = True,
        thread_pool_size: int = THREAD_POOL_SIZE,
    ) -> None:
        if thread_pool_size < 1:
            raise ValueError("thread_pool_size must be at least 1")
        self._contract = contract
        self._config = config
        self._title = title
        self._version = version
        self._operations: Dict[str, Operation] = {}
        self._declared: List[Dict[str, Any]] = []
        # Each registration again, to derive the operations anew with dependency overrides.
        self._registrations: List[Derive] = []
        self._dependencies: List[Any] = list(dependencies or [])
        self._threadpool = threadpool
        self._thread_pool_size = thread_pool_size
        self._lifespan = Lifespan(self, lifespan)
        # The service `run` serves, while it does (what `reload` reloads).
        self._serving: Optional[_native.Service] = None
        #: Dependency -> the dependency called instead, read at request time (FastAPI's).
        self.dependency_overrides: Dict[Callable[..., Any], Callable[..., Any]] = {}
        #: What the lifespan yielded, and anything the application keeps on it.
        self.state = types.SimpleNamespace()

    # --- binding handlers ------------------------------------------------------------------

    def operation(
        self,
        operation_id: str,
        *,
        status: int = 200,
        dependencies: Optional[Sequence[Any]] = None,
        threadpool: Optional[bool] = None,
    ) -> Callable[[F], F]:
        """Binds the decorated function to an operation of the contract, by operationId.
        ``status`` is the status of a plain return value (dict, list, str, model).

        Typed arguments (see ``route``) are read by name: an argument is the path parameter of
        that name, else the query parameter; markers (``Header()``, ...), models and
        dependencies work as in code-first routes. ``build()`` checks each one against the
        contract's parameters and body, and fails naming the argument that matches none."""

        def bind(handler: F) -> F:
            def derive(overrides: Overrides, declared: List[Dict[str, Any]], operations: Dict[str, Operation]) -> None:
                every = [*self._dependencies, *(dependencies or [])]
                signature = read_signature(handler, None, dependencies=every, overrides=overrides)
                self._bind(operations, operation_id, handler, status, signature, threadpool, _returned_model(handler))

            self._register(derive)
            return handler

        return bind

    def on_event(self, event: str) -> Callable[[F], F]:
        """Registers a function (sync or async) to run at ``"startup"``, before the server
        accepts connections, or at ``"shutdown"``, after it has drained."""

        self._lifespan.check(event)

        def register(function: F) -> F:
            self._lifespan.add(event, function)
            return function

        return register

    def route(
        self,
        method: str,
        path: str,
        *,
        operation_id: Optional[str] = None,
        status: int = 200,
        status_code: Optional[int] = None,
        body: Any = None,
        response: Any = None,
        response_model: Any = None,
        path_params: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        summary: Optional[str] = None,
        tags: Optional[Sequence[str]] = None,
        dependencies: Optional[Sequence[Any]] = None,
        threadpool: Optional[bool] = None,
        response_class: Optional[Type[Response]] = None,
    ) -> Callable[[F], F]:
        """Declares an operation in code and binds the decorated function to it.

        The handler's signature declares the operation, as in FastAPI: an argument named like
        a template variable is that path parameter (``user_id: int``), a Pydantic model is the
        JSON body, ``Query()``/``Header()``/``Cookie()``/``Path()`` markers set aliases and
        constraints, other simple-typed arguments are query parameters (required unless they
        have a default), and ``request: armature.Request`` is the request. A Pydantic model as
        the return annotation is the response schema. Core validates all of them.

        Explicit options override the signature: ``body`` and ``response`` (or
        ``response_model``) are Pydantic model classes or JSON Schema dicts; ``path_params``
        and ``query`` map parameter names to schemas. ``status_code`` is ``status``. ``tags``
        group the operation in ``/openapi.json``. ``dependencies`` run before the handler
        (after the app's), their values discarded. ``threadpool`` overrides the app's choice
        for a plain ``def`` handler. ``response_class`` (``PlainTextResponse``...) wraps a
        plain return value. The operationId defaults to the function's name.
        """
        if status_code is not None:
            status = status_code
        response = response if response is not None else response_model

        def declare(handler: F) -> F:
            def derive(overrides: Overrides, declared: List[Dict[str, Any]], operations: Dict[str, Operation]) -> None:
                every = [*self._dependencies, *(dependencies or [])]
                signature = read_signature(handler, path, dependencies=every, overrides=overrides)
                derive_route(declared, operations, handler, signature)

            self._register(derive)
            return handler

        def derive_route(
            declared: List[Dict[str, Any]], operations: Dict[str, Operation], handler: Callable[..., Any], signature: Signature
        ) -> None:
            op_id = operation_id or handler.__name__
            spec: Dict[str, Any] = {"method": method, "path": path, "operation_id": op_id}
            components: Dict[str, Any] = dict(signature.components)
            if summary is not None:
                spec["summary"] = summary
            if tags:
                spec["tags"] = list(tags)
            declared_path = {**signature.path_params, **{name: _schema(s, components) for name, s in (path_params or {}).items()}}
            if declared_path:
                spec["path_params"] = declared_path
            explicit_query = dict(query or {})
            if explicit_query:
                spec["query_params"] = {name: _schema(s, components) for name, s in explicit_query.items()}
            parameters = [p for p in signature.parameters if not (p["in"] == "query" and p["name"] in explicit_query)]
            if parameters:
                spec["parameters"] = parameters
            if body is not None:
                spec["request_body"] = {"schema": _schema(body, components)}
            elif signature.body is not None:
                spec["request_body"] = signature.body
            returned = response if response is not None else _returned_model(handler)
            if returned is not None:
                spec["responses"] = [{"status": status, "schema": _schema(returned, components)}]
            spec["components"] = components
            declared.append(spec)
            self._bind(operations, op_id, handler, status, signature, threadpool, returned, response_class)

        return declare

    def _declare(self, method: str, path: str, options: Dict[str, Any]) -> Callable[[F], F]:
        return self.route(method, path, **options)

    def include_router(
        self,
        router: APIRouter,
        *,
        prefix: str = "",
        tags: Optional[Sequence[str]] = None,
        dependencies: Optional[Sequence[Any]] = None,
    ) -> None:
        """Declares ``router``'s routes on this app, under ``prefix``, with ``tags`` and
        ``dependencies`` added (FastAPI's ``app.include_router``)."""
        _check_prefix(prefix)
        for method, path, options, handler in router._routes_with_own(prefix, tags, dependencies):
            if options.get("operation_id") is None and handler.__name__ in self._operations:
                # The same router included twice: FastAPI's unique id, name + path + method.
                options = {**options, "operation_id": _unique_operation_id(handler.__name__, path, method)}
            self.route(method, path, **options)(handler)

    def _register(self, derive: "Derive") -> None:
        """Derives one registration's operation now (so a signature that cannot be served
        fails at the decorator) and keeps it to derive again at build with overrides."""
        derive({}, self._declared, self._operations)
        self._registrations.append(derive)

    def _bind(
        self,
        operations: Dict[str, Operation],
        operation_id: str,
        handler: Callable[..., Any],
        status: int,
        signature: Signature,
        threadpool: Optional[bool],
        returned: Any,
        response_class: Optional[Type[Response]] = None,
    ) -> None:
        if operation_id in operations:
            raise _native.ContractError(f"two handlers registered for operationId {operation_id!r}")
        in_pool = self._threadpool if threadpool is None else threadpool
        # A response model (not a JSON Schema dict) shapes what is sent, as in FastAPI.
        response_type = returned if returned is not None and not isinstance(returned, Mapping) else None
        operations[operation_id] = Operation(handler, status, signature, in_pool, response_type, response_class)

    def _dispatcher(
        self, service: _native.Service, operations: Dict[str, Operation], loop: asyncio.AbstractEventLoop
    ) -> Dispatcher:
        return Dispatcher(
            service, operations, loop, overrides=self.dependency_overrides, thread_pool_size=self._thread_pool_size
        )

    # --- building and running --------------------------------------------------------------

    def build(self, **server: Any) -> _native.Service:
        """Compiles the contract and binds the handlers (raises ``ConfigError`` or
        ``ContractError`` naming what is wrong). ``server`` overrides ``host``, ``port``,
        ``reuse_port`` or ``workers`` of the configuration's ``server`` section."""
        return self._build(**server)[0]

    def _build(self, **server: Any) -> Tuple[_native.Service, Dict[str, Operation]]:
        """The service and the operations it dispatches to: derived anew when dependency
        overrides are set, so the contract requires what the overrides read, not what the
        dependencies they replace would have."""
        declared, operations = self._declared, self._operations
        if self.dependency_overrides:
            declared, operations = [], {}
            overrides = dict(self.dependency_overrides)
            for derive in self._registrations:
                derive(overrides, declared, operations)
        contract_path: Optional[str] = None
        document: Optional[Mapping[str, Any]] = None
        if isinstance(self._contract, Mapping):
            document = self._contract
        elif self._contract is not None:
            contract_path = os.fspath(self._contract)
        service = _native.Service(
            config_path=os.fspath(self._config) if self._config is not None else None,
            contract_path=contract_path,
            contract_document=document,
            operations=declared,
            handlers=list(operations),
            title=self._title,
            version=self._version,
            **{key: value for key, value in server.items() if value is not None},
        )
        code_first = {spec["operation_id"] for spec in declared}
        _check_signatures(service, {op_id: op for op_id, op in operations.items() if op_id not in code_first})
        return service, operations

    def openapi(self) -> Dict[str, Any]:
        """The OpenAPI document served at ``/openapi.json``."""
        import json

        document: Dict[str, Any] = json.loads(self.build().openapi_json())
        return document

    def run(self, host: Optional[str] = None, port: Optional[int] = None, *, workers: int = 1) -> None:
        """Serves until SIGINT or SIGTERM, then drains in-flight requests and returns.

        ``host`` and ``port`` override the configuration's. ``workers > 1`` forks that many
        processes sharing the port (SO_REUSEPORT), to use every core despite the GIL; the
        parent forwards SIGINT/SIGTERM to them and waits.
        """
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if workers == 1:
            self._serve(host=host, port=port)
            return
        if not hasattr(os, "fork"):
            raise RuntimeError("workers > 1 needs os.fork (Unix)")
        if port == 0:
            raise ValueError("workers > 1 need a fixed port to share, not 0")
        # Build once here so a bad contract or configuration fails before any fork.
        self.build(host=host, port=port)
        _run_workers(workers, lambda: self._serve(host=host, port=port, reuse_port=True))

    def reload(self) -> None:
        """Re-reads the files the configuration names for identity (JWT key and JWKS files,
        Basic users), authorization (Rego policies and data) and HTTPS (certificate and key),
        and swaps them in at once, as SIGHUP does: requests in flight finish on the old set.
        Raises ``ConfigError`` naming the file, and changes nothing, when one cannot be used.
        Blocks while the policy compiles (from a coroutine: ``await
        asyncio.to_thread(app.reload)``). Does nothing while the app is not serving."""
        service = self._serving
        if service is not None:
            service.reload()

    def _serve(self, **server: Any) -> None:
        service, operations = self._build(**server)
        loop = asyncio.new_event_loop()
        dispatcher = self._dispatcher(service, operations, loop)
        started = False
        try:
            asyncio.set_event_loop(loop)
            dispatcher.attach()
            loop.run_until_complete(self._lifespan.startup())
            started = True
            bound = service.start()
            self._serving = service
            _on_signals(loop, service)
            print(f"armature: listening on port {bound} (pid {os.getpid()})", file=sys.stderr, flush=True)
            # The core's wait blocks without the GIL on a helper thread; the loop keeps running
            # handlers until the server has drained and stopped.
            loop.run_until_complete(loop.run_in_executor(None, service.wait))
            dispatcher.drain()
            loop.run_until_complete(dispatcher.settle())
        finally:
            self._serving = None
            service.shutdown()
            dispatcher.detach()
            dispatcher.close()
            try:
                if started:
                    loop.run_until_complete(self._lifespan.shutdown())
            finally:
                asyncio.set_event_loop(None)
                loop.close()


def _returned_model(handler: Callable[..., Any]) -> Any:
    """The return annotation when it is a Pydantic model class or a type over one
    (``List[User]``): FastAPI's implicit ``response_model``. None otherwise (plain values are
    not given a schema)."""
    returned = return_annotation(handler)
    return returned if returned is not None and mentions_model(returned) else None


def _schema(declared: Any, components: Dict[str, Any]) -> Dict[str, Any]:
    schema, more = schema_of(declared)
    components.update(more)
    return schema


def _on_signals(loop: asyncio.AbstractEventLoop, service: _native.Service) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread receives signals; the caller stops us some other way
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, service.shutdown)
    # Off the loop: a reload blocks while the policy compiles.
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, _reload_quietly, service))


def _reload_quietly(service: _native.Service) -> None:
    """A SIGHUP's reload: core has logged and counted a failure already, and the service runs
    on as before."""
    try:
        service.reload()
    except _native.ConfigError:
        pass


def _run_workers(count: int, serve: Callable[[], None]) -> None:
    children: List[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                serve()
            except BaseException:  # noqa: BLE001 - reported, then the child exits non-zero
                logger.exception("armature worker %d failed", os.getpid())
                code = 1
            finally:
                os._exit(code)
        children.append(pid)

    def forward(sig: int, _frame: Any) -> None:
        for child in children:
            try:
                os.kill(child, sig)
            except ProcessLookupError:
                pass

    # SIGHUP too: each worker reloads its own files.
    forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in forwarded}
    failed = 0
    try:
        for child in children:
            _, status = os.waitpid(child, 0)
            if os.waitstatus_to_exitcode(status) != 0:
                failed += 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if failed:
        raise RuntimeError(f"{failed} of {count} workers exited with an error")


_LOCATIONS = {_PATH: "path", _QUERY: "query", _HEADER: "header", _COOKIE: "cookie"}
# The sources of arguments read from the request that the contract must declare.
_DECLARED = {*_LOCATIONS, _NAMED, _BODY}


def _check_signatures(service: _native.Service, operations: Mapping[str, Operation]) -> None:
    """At build, checks that each contract-first handler's typed arguments (and its
    dependencies') are parameters or the body of its operation, as core resolved the contract,
    so a renamed parameter fails at start, naming the argument, instead of reaching the handler
    as a default on every request. Raises ``ContractError`` for the first that matches nothing."""
    typed = {op_id: op for op_id, op in operations.items() if _reads_request(op.signature)}
    if not typed:
        return
    declared = service.declared_inputs()
    for op_id, operation in typed.items():
        listed, has_body = declared.get(op_id, ([], False))
        parameters = set(listed)
        for owner, name, source, wire in _arguments(operation.handler, operation.signature):
            if source == _BODY:
                if not has_body:
                    raise _native.ContractError(
                        f"handler {owner} of operation {op_id!r}: argument {name!r} is a model (the JSON body), "
                        "but the operation has no JSON request body"
                    )
                continue
            if source == _NAMED:
                found = ("path", wire) in parameters or ("query", wire) in parameters
                where = "a path or query parameter"
            else:
                location = _LOCATIONS[source]
                key = wire.lower() if location == "header" else wire
                found = (location, key) in parameters
                where = f"a {location} parameter"
            if not found:
                names = ", ".join(f"{loc} {pname}" for loc, pname in sorted(parameters)) or "none"
                raise _native.ContractError(
                    f"handler {owner} of operation {op_id!r}: argument {name!r} reads {where} {wire!r} that the "
                    f"operation does not declare (its parameters: {names})"
                )


def _reads_request(signature: Signature) -> bool:
    return any(source in _DECLARED for _, source, _, _, _ in signature.arguments) or bool(
        signature.depends or signature.dependencies
    )


def _arguments(handler: Any, signature: Signature) -> Iterator[Tuple[str, str, int, str]]:
    """(owner's name, argument, source, wire name) of `signature` and its dependencies'."""
    owner = getattr(handler, "__qualname__", repr(handler))
    for name, source, wire, _, _ in signature.arguments:
        if source in _DECLARED:
            yield owner, name, source, wire
    for dependant in [*signature.dependencies, *(dependant for _, dependant in signature.depends)]:
        yield from _arguments(dependant.call, cast(Signature, dependant.signature))
