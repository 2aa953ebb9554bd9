"""The application object: handlers bound to operations, and the ways to run them."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import threading
from typing import Any, Callable, Dict, List, Mapping, Optional, TypeVar, Union

from . import _native
from ._dispatch import Dispatcher, Operation
from ._schema import schema_of

logger = logging.getLogger("armature")

F = TypeVar("F", bound=Callable[..., Any])
PathLike = Union[str, "os.PathLike[str]"]


class App:
    """An Armature service: a contract, a configuration and Python handlers.

    ``contract`` is an OpenAPI file, or an already parsed document (a dict); without one, the
    configuration's ``contract.path`` is used, else the operations declared with ``@app.get``
    and friends make up the whole contract. ``config`` is a YAML, JSON or TOML file; without
    one, ``ARMATURE_CONFIG`` names it, else the embedded defaults apply. ``ARMATURE_*``
    environment variables override either (``ARMATURE_SERVER__PORT=9000``).
    """

    def __init__(
        self,
        contract: Union[PathLike, Mapping[str, Any], None] = None,
        config: Optional[PathLike] = None,
        *,
        title: str = "Armature service",
        version: str = "0.1.0",
    ) -> None:
        self._contract = contract
        self._config = config
        self._title = title
        self._version = version
        self._operations: Dict[str, Operation] = {}
        self._declared: List[Dict[str, Any]] = []

    # --- binding handlers ------------------------------------------------------------------

    def operation(self, operation_id: str, *, status: int = 200) -> Callable[[F], F]:
        """Binds the decorated function to an operation of the contract, by operationId.
        ``status`` is the status of a plain return value (dict, list, str, model)."""

        def bind(handler: F) -> F:
            self._bind(operation_id, handler, status)
            return handler

        return bind

    def route(
        self,
        method: str,
        path: str,
        *,
        operation_id: Optional[str] = None,
        status: int = 200,
        body: Any = None,
        response: Any = None,
        path_params: Optional[Mapping[str, Any]] = None,
        query: Optional[Mapping[str, Any]] = None,
        summary: Optional[str] = None,
    ) -> Callable[[F], F]:
        """Declares an operation in code and binds the decorated function to it.

        ``body`` and ``response`` are Pydantic model classes or JSON Schema dicts; core then
        validates requests and responses against them. ``path_params`` and ``query`` map
        parameter names to schemas (path parameters default to strings). The operationId
        defaults to the function's name.
        """

        def declare(handler: F) -> F:
            op_id = operation_id or handler.__name__
            spec: Dict[str, Any] = {"method": method, "path": path, "operation_id": op_id}
            components: Dict[str, Any] = {}
            if summary is not None:
                spec["summary"] = summary
            if path_params:
                spec["path_params"] = {name: _schema(s, components) for name, s in path_params.items()}
            if query:
                spec["query_params"] = {name: _schema(s, components) for name, s in query.items()}
            if body is not None:
                spec["request_body"] = {"schema": _schema(body, components)}
            if response is not None:
                spec["responses"] = [{"status": status, "schema": _schema(response, components)}]
            spec["components"] = components
            self._declared.append(spec)
            self._bind(op_id, handler, status)
            return handler

        return declare

    def get(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("GET", path, ...)``."""
        return self.route("GET", path, **options)

    def post(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("POST", path, ...)``."""
        return self.route("POST", path, **options)

    def put(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("PUT", path, ...)``."""
        return self.route("PUT", path, **options)

    def patch(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("PATCH", path, ...)``."""
        return self.route("PATCH", path, **options)

    def delete(self, path: str, **options: Any) -> Callable[[F], F]:
        """``route("DELETE", path, ...)``."""
        return self.route("DELETE", path, **options)

    def _bind(self, operation_id: str, handler: Callable[..., Any], status: int) -> None:
        if operation_id in self._operations:
            raise _native.ContractError(f"two handlers registered for operationId {operation_id!r}")
        self._operations[operation_id] = Operation(handler, status)

    # --- building and running --------------------------------------------------------------

    def build(self, **server: Any) -> _native.Service:
        """Compiles the contract and binds the handlers (raises ``ConfigError`` or
        ``ContractError`` naming what is wrong). ``server`` overrides ``host``, ``port``,
        ``reuse_port`` or ``workers`` of the configuration's ``server`` section."""
        contract_path: Optional[str] = None
        document: Optional[Mapping[str, Any]] = None
        if isinstance(self._contract, Mapping):
            document = self._contract
        elif self._contract is not None:
            contract_path = os.fspath(self._contract)
        return _native.Service(
            config_path=os.fspath(self._config) if self._config is not None else None,
            contract_path=contract_path,
            contract_document=document,
            operations=self._declared,
            handlers=list(self._operations),
            title=self._title,
            version=self._version,
            **{key: value for key, value in server.items() if value is not None},
        )

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

    def _serve(self, **server: Any) -> None:
        service = self.build(**server)
        loop = asyncio.new_event_loop()
        dispatcher = Dispatcher(service, self._operations, loop)
        try:
            asyncio.set_event_loop(loop)
            dispatcher.attach()
            bound = service.start()
            _on_signals(loop, service.shutdown)
            print(f"armature: listening on port {bound} (pid {os.getpid()})", file=sys.stderr, flush=True)
            # The core's wait blocks without the GIL on a helper thread; the loop keeps running
            # handlers until the server has drained and stopped.
            loop.run_until_complete(loop.run_in_executor(None, service.wait))
            dispatcher.drain()
            loop.run_until_complete(dispatcher.settle())
        finally:
            service.shutdown()
            dispatcher.detach()
            asyncio.set_event_loop(None)
            loop.close()


def _schema(declared: Any, components: Dict[str, Any]) -> Dict[str, Any]:
    schema, more = schema_of(declared)
    components.update(more)
    return schema


def _on_signals(loop: asyncio.AbstractEventLoop, shutdown: Callable[[], None]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread receives signals; the caller stops us some other way
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, shutdown)


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

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
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
