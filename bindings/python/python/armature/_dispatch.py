"""Runs handlers for the requests core hands over, on one asyncio loop.

Core threads never wait for Python: they push requests into a bounded queue whose descriptor
wakes this loop (``loop.add_reader``); one wake-up takes every waiting request. ``async def``
handlers become tasks; plain ``def`` handlers run in a thread pool (as FastAPI runs them, so one
that blocks does not stall the loop), or right there on the loop's thread when the route or app
says ``threadpool=False``. What a handler returns or raises is turned into the answer here;
what the answer *means* (status checks, response validation, problem bodies) is decided by
core. Dependencies are solved here too (``_depends``); their teardowns and the background
tasks run after the answer.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import os
import sys
from typing import Any, Awaitable, Callable, Dict, Mapping, Optional

from ._depends import Dependant, Override, Solution, run_now
from ._native import BODY_BINARY, BODY_JSON, BODY_NOTHING, BODY_TEXT, Request, Service
from ._params import Signature, override_dependant
from ._response import HTTPError, Response
from ._schema import type_adapter

logger = logging.getLogger("armature")

#: Requests taken per call to the queue; more are taken in further calls of the same wake-up.
BATCH = 256

Handler = Callable[..., Any]


class Operation:
    """A handler bound to an operationId, with what is needed to call and answer it."""

    __slots__ = (
        "handler",
        "is_async",
        "signature",
        "mode",
        "status",
        "threadpool",
        "plain",
        "response_adapter",
        "response_class",
    )

    def __init__(
        self,
        handler: Handler,
        status: int,
        signature: Signature,
        threadpool: bool,
        response_type: Any = None,
        response_class: Optional[Callable[..., Response]] = None,
    ) -> None:
        self.handler = handler
        self.is_async = inspect.iscoroutinefunction(handler)
        self.signature = signature
        # The two shapes of the request-style API keep a call without keyword arguments.
        if not signature.arguments:
            self.mode = _CALL_BARE
        elif signature.takes_only_request:
            self.mode = _CALL_REQUEST
        else:
            self.mode = _CALL_TYPED
        self.status = status
        # Whether plain (sync) code of this operation runs in the thread pool.
        self.threadpool = threadpool
        # No dependencies, no background tasks, nothing to move off the loop: the short path.
        self.plain = not signature.needs_solution and (self.is_async or not threadpool)
        # The response model: what a handler returns is validated into it and serialized from
        # it, so fields it does not declare (a password hash) are never sent.
        self.response_adapter = type_adapter(response_type) if response_type is not None else None
        self.response_class = response_class

    def call(self, request: Request) -> Any:
        """Calls the handler of an operation without dependencies, in its call shape."""
        mode = self.mode
        if mode == _CALL_REQUEST:
            return self.handler(request)
        if mode == _CALL_BARE:
            return self.handler()
        return self.handler(**self.signature.bind(request))


_CALL_BARE, _CALL_REQUEST, _CALL_TYPED = range(3)

#: Threads of the pool that runs plain ``def`` code, as many as FastAPI's (anyio's) default.
THREAD_POOL_SIZE = 40


class Dispatcher:
    """Drains one service's queue on one loop."""

    def __init__(
        self,
        service: Service,
        operations: Dict[str, Operation],
        loop: asyncio.AbstractEventLoop,
        *,
        overrides: Optional[Mapping[Callable[..., Any], Callable[..., Any]]] = None,
        thread_pool_size: int = THREAD_POOL_SIZE,
    ) -> None:
        self._service = service
        self._operations = operations
        self._loop = loop
        # What runs, with the request it serves (None: after-response work of some request).
        self._tasks: Dict["asyncio.Future[Any]", Optional[Request]] = {}
        self._jobs: Dict["concurrent.futures.Future[None]", Request] = {}
        self._eager = _eager_task_starter(loop)
        self.overrides: Mapping[Callable[..., Any], Callable[..., Any]] = overrides if overrides is not None else {}
        self._pool: Optional[concurrent.futures.ThreadPoolExecutor] = None
        if any(operation.threadpool for operation in operations.values()):
            self._pool = concurrent.futures.ThreadPoolExecutor(thread_pool_size, thread_name_prefix="armature-def")

    def attach(self) -> int:
        """Watches the queue's descriptor on the loop; returns the descriptor."""
        fd = self._service.readable_fd()
        self._loop.add_reader(fd, self.drain)
        return fd

    def detach(self) -> None:
        self._loop.remove_reader(self._service.readable_fd())

    def close(self) -> None:
        """Stops the thread pool (after ``settle``, nothing runs in it any more)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

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

    async def settle(self, *, answered_only: bool = False) -> None:
        """Waits for the handlers still running (tasks and pool jobs), the teardowns of their
        dependencies and their background tasks. `answered_only`: only for what runs after
        an answer (a handler core gave up on, past its timeout, is not waited for)."""
        while True:
            # One turn of the loop first: background tasks a finished job or an inline
            # operation scheduled (call_soon_threadsafe) become tasks then.
            await asyncio.sleep(0)
            tasks = [task for task, request in list(self._tasks.items()) if _awaited(request, answered_only)]
            jobs = [job for job, request in list(self._jobs.items()) if _awaited(request, answered_only)]
            if not tasks and not jobs:
                return
            pending = [*tasks, *(asyncio.wrap_future(job, loop=self._loop) for job in jobs)]
            await asyncio.gather(*pending, return_exceptions=True)

    def spawn(self, coroutine: Awaitable[Any], request: Optional[Request] = None) -> None:
        """Runs `coroutine` on the loop as a task that ``settle`` waits for (call on the loop);
        `request` is the request it answers, None for work after an answer."""
        task = self._eager(coroutine)
        if not task.done():
            self._tasks[task] = request
            task.add_done_callback(self._forget_task)

    def _forget_task(self, task: "asyncio.Future[Any]") -> None:
        self._tasks.pop(task, None)

    def _forget_job(self, job: "concurrent.futures.Future[None]") -> None:
        self._jobs.pop(job, None)

    def offload(self, call: Callable[[], Any]) -> Awaitable[Any]:
        """Runs plain code in the thread pool, from the loop."""
        return self._loop.run_in_executor(self._pool, call)

    def _submit(self, request: Request, operation: Operation) -> None:
        assert self._pool is not None
        job = self._pool.submit(self._run_sync, request, operation)
        self._jobs[job] = request
        job.add_done_callback(self._forget_job)

    def _dispatch(self, request: Request) -> None:
        operation = self._operations[request.operation_id]
        if not operation.plain:
            if operation.is_async or operation.signature.is_async:
                self.spawn(self._run_async(request, operation), request)
            elif operation.threadpool:
                self._submit(request, operation)
            else:
                self._run_sync(request, operation)
            return
        try:
            result = operation.call(request)
        except BaseException as error:  # noqa: BLE001 - every failure becomes an answer
            _fail(request, error)
            return
        if operation.is_async:
            self.spawn(_finish_async(request, operation, result), request)
        else:
            answer(request, operation, result)

    def _override(self) -> Optional[Override]:
        """What replaces an overridden dependency, or None when nothing is overridden."""
        if not self.overrides:
            return None
        overrides = self.overrides

        def override(call: Callable[..., Any], use_cache: bool) -> Optional[Dependant]:
            replacement = overrides.get(call)
            return None if replacement is None else override_dependant(replacement, use_cache)

        return override

    def _run_sync(self, request: Request, operation: Operation) -> None:
        """A sync operation with dependencies, or one in the thread pool (then on a worker)."""
        solution = Solution(self._override(), None) if operation.signature.needs_solution else None
        try:
            if solution is not None:
                result = operation.handler(**run_now(solution.arguments(operation.signature, request)))
            else:
                result = operation.call(request)
        except BaseException as error:  # noqa: BLE001 - every failure becomes an answer
            _answer_failure(request, error)
            self._after(solution, error)
            _reraise_fatal(error)
            return
        answer(request, operation, result)
        self._after(solution, None)

    async def _run_async(self, request: Request, operation: Operation) -> None:
        """An operation whose handler or dependencies are async."""
        offload = self.offload if operation.threadpool else None
        solution = Solution(self._override(), offload)
        error: Optional[BaseException] = None
        try:
            arguments = await solution.arguments(operation.signature, request)
            if operation.is_async:
                result = await operation.handler(**arguments)
            elif offload is not None:
                result = await offload(functools.partial(operation.handler, **arguments))
            else:
                result = operation.handler(**arguments)
        except BaseException as failure:  # noqa: BLE001 - every failure becomes an answer
            error = failure
        if error is None:
            answer(request, operation, result)
        else:
            # Answered after the teardowns have seen the error would delay the answer; the
            # error is answered first, then thrown into the teardowns.
            _answer_failure(request, error)
        if solution.stack is not None:
            await solution.close(error)
        if solution.background is not None and error is None:
            await solution.background.run(offload)
        if error is not None:
            _reraise_fatal(error)

    def _after(self, solution: Optional[Solution], error: Optional[BaseException]) -> None:
        """Teardowns, then background tasks (on the loop), after a sync operation answered.
        As in FastAPI, the background tasks of a request that failed do not run."""
        if solution is None:
            return
        if solution.stack is not None:
            run_now(solution.close(error))
        background = solution.background
        if background is not None and background.tasks and error is None:
            offload = self.offload if self._pool is not None else None
            self._loop.call_soon_threadsafe(self.spawn, background.run(offload))


async def _finish_async(request: Request, operation: Operation, coroutine: Awaitable[Any]) -> None:
    try:
        result = await coroutine
    except BaseException as error:  # noqa: BLE001 - every failure becomes an answer
        _fail(request, error)
        return
    answer(request, operation, result)


def answer(request: Request, operation: Operation, result: Any) -> None:
    """Answers with what a handler returned: converts it to the kind of body it is and hands it to
    core, whose answer rule decides content types, headers and what nothing becomes."""
    status = operation.status
    try:
        if operation.response_class is not None and not isinstance(result, Response):
            result = operation.response_class(result, status_code=status)
        adapter = operation.response_adapter
        if adapter is not None and result is not None and not isinstance(result, Response):
            shaped = _shaped(adapter, result)
            if shaped is not None:
                request._answer(status, BODY_JSON, shaped)
                return
        kind = type(result)
        if kind is dict or kind is list:
            request._answer(status, BODY_JSON, result)
        elif kind is str:
            request._answer(status, BODY_TEXT, result)
        elif isinstance(result, Response):
            result._send(request)
        elif result is None:
            request._answer(status, BODY_NOTHING, None)
        elif isinstance(result, (bytes, bytearray, memoryview)):
            request._answer(status, BODY_BINARY, bytes(result))
        elif hasattr(result, "model_dump_json"):  # a Pydantic model
            request._answer(status, BODY_JSON, result.model_dump_json().encode())
        else:
            request._answer(status, BODY_JSON, result)
    except Exception as error:  # noqa: BLE001 - a result that cannot be sent is a handler failure
        _fail(request, error)


def _shaped(adapter: Any, result: Any) -> Optional[bytes]:
    """`result` validated into the response model and serialized from it; None when it does
    not fit, so it is sent as it is and core's response validation reports what is wrong
    (500 `response-validation` in enforce mode), as it does for every binding."""
    try:
        return adapter.dump_json(adapter.validate_python(result, from_attributes=True))  # type: ignore[no-any-return]
    except ValueError:  # pydantic's ValidationError
        return None


def _fail(request: Request, error: BaseException) -> None:
    _answer_failure(request, error)
    _reraise_fatal(error)


def _answer_failure(request: Request, error: BaseException) -> None:
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


def _reraise_fatal(error: BaseException) -> None:
    if not isinstance(error, Exception) and not isinstance(error, asyncio.CancelledError):
        raise error  # KeyboardInterrupt, SystemExit: answered, then let them stop the loop


def _awaited(request: Optional[Request], answered_only: bool) -> bool:
    return request is None or not answered_only or request.answered


def _eager_task_starter(loop: asyncio.AbstractEventLoop) -> Callable[[Any], "asyncio.Task[None]"]:
    """Python 3.12's eager tasks run a coroutine up to its first suspension at once, so a
    handler that never awaits anything slow answers without a trip through the loop."""
    if sys.version_info < (3, 12):
        return loop.create_task

    def start(coroutine: Any) -> "asyncio.Task[None]":
        return asyncio.Task(coroutine, loop=loop, eager_start=True)

    return start
