"""Startup and shutdown code: FastAPI's ``lifespan`` and ``@app.on_event``.

The order is FastAPI's (Starlette's) when both are given: ``startup`` functions, then the
lifespan entered; at the end the lifespan exited, then ``shutdown`` functions. A startup that
fails stops the service before it accepts a connection."""

from __future__ import annotations

import inspect
from typing import Any, AsyncContextManager, Callable, List, Mapping, Optional

LifespanFunction = Callable[[Any], AsyncContextManager[Any]]


class Lifespan:
    """One app's startup and shutdown code, entered once per served (or tested) app."""

    def __init__(self, app: Any, lifespan: Optional[LifespanFunction]) -> None:
        self._app = app
        self._lifespan = lifespan
        self._events: dict[str, List[Callable[[], Any]]] = {"startup": [], "shutdown": []}
        self._entered: Optional[AsyncContextManager[Any]] = None

    def check(self, event: str) -> None:
        if event not in self._events:
            raise ValueError(f"the events are 'startup' and 'shutdown', not {event!r}")

    def add(self, event: str, function: Callable[[], Any]) -> None:
        self.check(event)
        self._events[event].append(function)

    async def startup(self) -> None:
        for function in self._events["startup"]:
            await _call(function)
        if self._lifespan is not None:
            manager = self._lifespan(self._app)
            state = await manager.__aenter__()
            self._entered = manager
            if isinstance(state, Mapping):
                for key, value in state.items():
                    setattr(self._app.state, key, value)

    async def shutdown(self) -> None:
        manager, self._entered = self._entered, None
        try:
            if manager is not None:
                await manager.__aexit__(None, None, None)
        finally:
            for function in self._events["shutdown"]:
                await _call(function)


async def _call(function: Callable[[], Any]) -> None:
    result = function()
    if inspect.isawaitable(result):
        await result
