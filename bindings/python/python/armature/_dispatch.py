"""Runs handlers for the requests core hands over, on one asyncio loop.

Core threads never wait for Python: they push requests into a bounded queue whose descriptor
wakes this loop (``loop.add_reader``); one wake-up takes every waiting request. Plain ``def``
handlers run right there, on the loop's thread; ``async def`` handlers become tasks. What a
handler returns or raises is turned into the answer here; what the answer *means* (status
checks, response validation, problem bodies) is decided by core.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import sys
from typing import Any, Awaitable, Callable, Dict, Set

from ._native import Request, Service
from ._response import HTTPError, Response

logger = logging.getLogger("armature")

#: Requests taken per call to the queue; more are taken in further calls of the same wake-up.
BATCH = 256

Handler = Callable[..., Any]


class Operation:
    """A handler bound to an operationId, with what is needed to call and answer it."""

    __slots__ = ("handler", "is_async", "takes_request", "status")

    def __init__(self, handler: Handler, status: int) -> None:
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.takes_request = _takes_request(handler)
        self.status = status


def _takes_request(handler: Handler) -> bool:
    positional = [
        p
        for p in inspect.signature(handler).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if len(positional) > 1 and positional[0].kind is not positional[0].VAR_POSITIONAL:
        raise TypeError(f"handler {handler.__qualname__} must take one argument (the request) or none")
    return bool(positional)


class Dispatcher:
    """Drains one service's queue on one loop."""

    def __init__(self, service: Service, operations: Dict[str, Operation], loop: asyncio.AbstractEventLoop) -> None:
        self._service = service
        self._operations = operations
        self._loop = loop
        self._tasks: Set["asyncio.Task[None]"] = set()
        self._eager = _eager_task_starter(loop)

    def attach(self) -> int:
        """Watches the queue's descriptor on the loop; returns the descriptor."""
        fd = self._service.readable_fd()
        self._loop.add_reader(fd, self.drain)
        return fd

    def detach(self) -> None:
        self._loop.remove_reader(self._service.readable_fd())

    def drain(self) -> None:
        take = self._service.take
        yielded = False
        while True:
            batch = take(BATCH)
            for request in batch:
                self._dispatch(request)
            if len(batch) == BATCH:
                continue
            if batch and not yielded:
                # Give the core's threads the CPU once before going back to the selector: when
                # they share a core with this thread, they then finish routing and validating
                # the other ready requests, and the next take gets them all. Measured on one
                # core (wrk -c64, GET /json, whole pipeline): 2 requests per wake-up and ~12k
                # requests/s without this, ~40 and ~19-21k with it. On an idle core it returns
                # at once. Once per wake-up, so async handlers' callbacks are never starved.
                yielded = True
                os.sched_yield()
                continue
            return

    async def settle(self) -> None:
        """Waits for the async handlers still running."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _dispatch(self, request: Request) -> None:
        operation = self._operations[request.operation_id]
        try:
            result = operation.handler(request) if operation.takes_request else operation.handler()
        except BaseException as error:  # noqa: BLE001 - every failure becomes an answer
            _fail(request, error)
            return
        if operation.is_async:
            task = self._eager(_finish_async(request, operation, result))
            if not task.done():
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        else:
            answer(request, operation, result)


async def _finish_async(request: Request, operation: Operation, coroutine: Awaitable[Any]) -> None:
    try:
        result = await coroutine
    except BaseException as error:  # noqa: BLE001 - every failure becomes an answer
        _fail(request, error)
        return
    answer(request, operation, result)


def answer(request: Request, operation: Operation, result: Any) -> None:
    """Answers with what a handler returned."""
    status = operation.status
    try:
        kind = type(result)
        if kind is dict or kind is list:
            request._respond_json(status, result)
        elif kind is str:
            request._respond_text(status, result)
        elif isinstance(result, Response):
            result._send(request)
        elif result is None:
            request._respond(204 if status == 200 else status, b"")
        elif isinstance(result, (bytes, bytearray, memoryview)):
            request._respond(status, bytes(result), "application/octet-stream")
        elif hasattr(result, "model_dump_json"):  # a Pydantic model
            request._respond(status, result.model_dump_json().encode(), "application/json")
        else:
            request._respond_json(status, result)
    except Exception as error:  # noqa: BLE001 - a result that cannot be sent is a handler failure
        _fail(request, error)


def _fail(request: Request, error: BaseException) -> None:
    if isinstance(error, HTTPError):
        request._refuse(error.status, error.detail)
    elif isinstance(error, asyncio.CancelledError):
        # Cancelled before answering: core answers 500 `no-response`.
        request._abandon()
    else:
        logger.error(
            "handler of %s failed (request %s)",
            request.operation_id,
            request.request_id,
            exc_info=(type(error), error, error.__traceback__),
        )
        request._fail(f"{type(error).__name__}: {error}")
    if not isinstance(error, Exception) and not isinstance(error, asyncio.CancelledError):
        raise error  # KeyboardInterrupt, SystemExit: answered, then let them stop the loop


def _eager_task_starter(loop: asyncio.AbstractEventLoop) -> Callable[[Any], "asyncio.Task[None]"]:
    """Python 3.12's eager tasks run a coroutine up to its first suspension at once, so a
    handler that never awaits anything slow answers without a trip through the loop."""
    if sys.version_info < (3, 12):
        return loop.create_task

    def start(coroutine: Any) -> "asyncio.Task[None]":
        return asyncio.Task(coroutine, loop=loop, eager_start=True)

    return start
