"""Dependencies, the FastAPI way: ``Depends(fn)`` arguments, solved once per request.

A dependency is a function or a class whose own arguments are read like a handler's (path,
query, header and cookie parameters, the body, the request, other dependencies). What it reads
is declared in the operation's contract, so core has validated it before Python runs. Kinds:

- a plain function or class: called; its return value (an instance, for a class) is the value;
- an ``async def``: awaited;
- a generator (``yield`` once): the yielded value is the value, and the code after ``yield``
  runs after the response has been handed to core (an exception of the handler is thrown in at
  the ``yield``, so ``try/except`` around it can roll back); async generators likewise.

Within one request a dependency is called once and its value shared (``use_cache=False`` calls
it every time). ``App.dependency_overrides`` swaps a dependency for another one at request
time, for tests.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Coroutine, Dict, List, Optional, Protocol, Tuple

if TYPE_CHECKING:
    from ._native import Request

logger = logging.getLogger("armature")

Offload = Callable[[Callable[[], Any]], Awaitable[Any]]


class Signature(Protocol):
    """What solving needs of a function's signature (``_params.Signature`` is one): the
    dependencies it declares and how to bind its arguments. Declared here so that this module
    needs nothing from the one that reads signatures, which builds on it."""

    depends: List[Tuple[str, "Dependant"]]
    dependencies: List["Dependant"]
    is_async: bool

    def bind(
        self, request: "Request", solution: Any = None, solved: Optional[Dict[str, Any]] = None
    ) -> Dict[str, Any]: ...


# Gives the Dependant that replaces a dependency (`App.dependency_overrides`), or None.
Override = Callable[[Callable[..., Any], bool], Optional["Dependant"]]


def Depends(dependency: Optional[Callable[..., Any]] = None, *, use_cache: bool = True) -> Any:  # noqa: N802
    """A dependency: ``user: User = Depends(current_user)``, or ``Annotated[User,
    Depends(current_user)]``. Without a callable, the annotation (a class) is the dependency:
    ``page: Pagination = Depends()``. Typed ``Any``, as FastAPI's, so that it is a valid
    default of an argument of any type."""
    return Dependency(dependency, use_cache=use_cache)


class Dependency:
    """What ``Depends(...)`` returns: the marker read from a signature."""

    __slots__ = ("dependency", "use_cache")

    def __init__(self, dependency: Optional[Callable[..., Any]] = None, *, use_cache: bool = True) -> None:
        self.dependency = dependency
        self.use_cache = use_cache

    def __repr__(self) -> str:
        name = getattr(self.dependency, "__qualname__", repr(self.dependency))
        return f"Depends({name}{'' if self.use_cache else ', use_cache=False'})"


_FUNCTION, _COROUTINE, _GENERATOR, _ASYNC_GENERATOR = range(4)


class Dependant:
    """One resolved dependency: what to call, what its arguments read, and how to call it."""

    __slots__ = ("call", "signature", "kind", "use_cache", "enter")

    def __init__(self, call: Callable[..., Any], signature: "Signature", use_cache: bool) -> None:
        self.call = call
        self.signature = signature
        self.use_cache = use_cache
        # What says the kind: the function, or the __call__ of an instance (a class is called
        # to make an instance, whatever its methods are).
        target: Any = None
        if not isinstance(call, type):
            target = call if inspect.isfunction(call) or inspect.ismethod(call) else getattr(type(call), "__call__", None)
        self.enter: Optional[Callable[..., Any]] = None
        if target is not None and inspect.isasyncgenfunction(target):
            self.kind = _ASYNC_GENERATOR
            self.enter = contextlib.asynccontextmanager(call)
        elif target is not None and inspect.isgeneratorfunction(target):
            self.kind = _GENERATOR
            self.enter = contextlib.contextmanager(call)
        elif target is not None and inspect.iscoroutinefunction(target):
            self.kind = _COROUTINE
        else:
            self.kind = _FUNCTION

    @property
    def is_async(self) -> bool:
        """Whether solving it (or anything it depends on) must await."""
        return self.kind in (_COROUTINE, _ASYNC_GENERATOR) or self.signature.is_async


class BackgroundTasks:
    """Functions to run after the response has been sent (FastAPI's ``BackgroundTasks``):
    take one as an argument and ``add_task(fn, *args, **kwargs)``. They run one after the
    other, ``async def`` ones awaited, plain ones in the thread pool (inline when the route
    runs inline); a failing task is logged and the next one runs. Shutdown waits for them."""

    __slots__ = ("tasks",)

    def __init__(self) -> None:
        self.tasks: List[Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]] = []

    def add_task(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Schedules ``func(*args, **kwargs)`` for after the response."""
        self.tasks.append((func, args, kwargs))

    async def run(self, offload: Optional[Offload]) -> None:
        for func, args, kwargs in self.tasks:
            try:
                if inspect.iscoroutinefunction(func):
                    await func(*args, **kwargs)
                elif offload is not None:
                    await offload(functools.partial(func, *args, **kwargs))
                else:
                    func(*args, **kwargs)
            except Exception:  # noqa: BLE001 - the response is gone; the next task still runs
                logger.exception("background task %s failed", getattr(func, "__qualname__", func))


class Solution:
    """The dependencies of one request: values already computed, teardowns, background tasks.

    Solving is one coroutine whatever the dependencies are: when none of them is async it never
    suspends, and ``run_now`` drives it to the end without a loop (on a worker thread, or inline
    on the loop's thread), so sync and async dependencies share one implementation."""

    __slots__ = ("cache", "stack", "background", "override", "offload")

    def __init__(self, override: Optional[Override], offload: Optional[Offload]) -> None:
        self.cache: Dict[Callable[..., Any], Any] = {}
        # Made by the first generator dependency: most requests have none to tear down.
        self.stack: Optional[contextlib.AsyncExitStack] = None
        self.background: Optional[BackgroundTasks] = None
        # None when no dependency is overridden (the usual case): nothing to look up.
        self.override = override
        # Set when sync dependencies must leave the loop's thread (an async operation whose
        # sync parts run in the thread pool); None: call them where we are.
        self.offload = offload

    def background_tasks(self) -> BackgroundTasks:
        if self.background is None:
            self.background = BackgroundTasks()
        return self.background

    async def arguments(self, signature: "Signature", request: "Request") -> Dict[str, Any]:
        """The keyword arguments of a call of a function with `signature`, dependencies solved."""
        for dependant in signature.dependencies:
            await self._value(dependant, request)
        solved = {name: await self._value(dependant, request) for name, dependant in signature.depends}
        return signature.bind(request, self, solved)

    async def _value(self, dependant: Dependant, request: "Request") -> Any:
        if self.override is not None:
            dependant = self.override(dependant.call, dependant.use_cache) or dependant
        call = dependant.call
        if dependant.use_cache and call in self.cache:
            return self.cache[call]
        signature = dependant.signature
        if signature.depends or signature.dependencies:
            kwargs = await self.arguments(signature, request)
        else:  # a leaf: no coroutine needed for its arguments
            kwargs = signature.bind(request, self, None)
        kind, offload = dependant.kind, self.offload
        if kind in (_GENERATOR, _ASYNC_GENERATOR) and self.stack is None:
            self.stack = contextlib.AsyncExitStack()
        stack: Any = self.stack
        if kind == _COROUTINE:
            value = await call(**kwargs)
        elif kind == _ASYNC_GENERATOR:
            value = await stack.enter_async_context(dependant.enter(**kwargs))  # type: ignore[misc]
        elif kind == _GENERATOR:
            manager = dependant.enter(**kwargs)  # type: ignore[misc]
            if offload is None:
                value = stack.enter_context(manager)
            else:
                value = await offload(manager.__enter__)
                stack.push_async_exit(_offloaded_exit(offload, manager))
        elif offload is not None:
            value = await offload(functools.partial(call, **kwargs))
        else:
            value = call(**kwargs)
        if dependant.use_cache:
            self.cache[call] = value
        return value

    async def close(self, error: Optional[BaseException]) -> None:
        """Runs the teardowns (last entered first), `error` thrown in at their ``yield``; a
        teardown that fails with anything but `error` itself is logged."""
        stack, self.stack = self.stack, None
        if stack is None:
            return
        try:
            if error is None:
                await stack.aclose()
            else:
                await stack.__aexit__(type(error), error, error.__traceback__)
        except BaseException as failure:  # noqa: BLE001 - the response is gone; report it
            if failure is not error:
                logger.error("a dependency's teardown failed", exc_info=(type(failure), failure, failure.__traceback__))


def _offloaded_exit(offload: Offload, manager: Any) -> Callable[..., Awaitable[Any]]:
    async def exit_(*exc: Any) -> Any:
        return await offload(functools.partial(manager.__exit__, *exc))

    return exit_


def run_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Runs a coroutine that never suspends (every dependency sync) to its result."""
    try:
        coroutine.send(None)
    except StopIteration as finished:
        return finished.value
    coroutine.close()
    raise RuntimeError("a synchronous operation awaited something: its dependencies were declared sync")
