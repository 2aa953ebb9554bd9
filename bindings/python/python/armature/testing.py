"""Testing without a socket: ``TestClient`` sends requests through the whole pipeline
(routing, identity, policy, validation, problem responses, telemetry) in-process, and runs the
handlers on a private event loop while it waits::

    from armature.testing import TestClient

    def test_hello() -> None:
        with TestClient(app) as client:
            response = client.get("/hello/ada")
            assert response.status_code == 200
            assert response.json() == {"hello": "ada"}

``AsyncClient`` is the same for async tests (httpx's shape), on the test's own loop::

    async def test_hello() -> None:
        async with AsyncClient(app) as client:
            response = await client.get("/hello/ada")

As with FastAPI's clients, the app's lifespan (startup and shutdown) runs when the client is
used as a context manager. A request returns once the handler has answered and the request's
dependency teardowns and background tasks have finished, so a test can check their effects.
"""

from __future__ import annotations

import asyncio
import json as json_module
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode

from ._app import App
from ._response import _UNSET, Headers, _header_list

QueryParams = Union[Mapping[str, Any], Sequence[Tuple[str, Any]]]


class ResponseHeaders(Mapping[str, str]):
    """Response headers: case-insensitive lookup; repeated headers joined with ", "."""

    def __init__(self, items: List[Tuple[str, str]]) -> None:
        self._items = items

    def __getitem__(self, name: str) -> str:
        values = self.get_list(name)
        if not values:
            raise KeyError(name)
        return ", ".join(values)

    def __iter__(self) -> Iterator[str]:
        seen: dict[str, None] = {}
        for name, _ in self._items:
            seen.setdefault(name.lower(), None)
        return iter(seen)

    def __len__(self) -> int:
        return len({name.lower() for name, _ in self._items})

    def get_list(self, name: str) -> List[str]:
        """Every value of one header, in order."""
        name = name.lower()
        return [value for key, value in self._items if key.lower() == name]

    def raw(self) -> List[Tuple[str, str]]:
        """Every (name, value) pair as received."""
        return list(self._items)


class TestResponse:
    """What came back: ``status_code``, ``headers``, ``content``, ``text`` and ``json()``."""

    __test__ = False  # not a pytest test class

    def __init__(self, status_code: int, headers: List[Tuple[str, str]], content: bytes) -> None:
        self.status_code = status_code
        self.headers = ResponseHeaders(headers)
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json_module.loads(self.content)

    def __repr__(self) -> str:
        return f"<TestResponse {self.status_code}>"


Answer = Tuple[int, List[Tuple[str, str]], bytes]


class _Client:
    """What both clients share: the service, the dispatcher on a loop, building requests."""

    def __init__(self, app: App, loop: asyncio.AbstractEventLoop, headers: Optional[Headers], timeout: float) -> None:
        self._app = app
        # Built now: dependency overrides set before this client was made shape its contract.
        self._service, operations = app._build()
        self._loop = loop
        self._dispatcher = app._dispatcher(self._service, operations, loop)
        self._dispatcher.attach()
        self._headers = _header_list(headers)
        self._timeout = timeout
        self._closed = False
        self._started = False

    def _send(
        self,
        method: str,
        url: str,
        params: Optional[QueryParams],
        headers: Optional[Headers],
        cookies: Optional[Mapping[str, str]],
        json: Any,
        content: Union[bytes, str, None],
    ) -> "asyncio.Future[Answer]":
        """Hands one request to core; the future resolves on the loop with its answer."""
        if self._closed:
            raise RuntimeError(f"this {type(self).__name__} is closed")
        target = url
        if params:
            target += ("&" if "?" in url else "?") + urlencode(params, doseq=True)
        sent = self._headers + _header_list(headers)
        if cookies:
            sent.append(("cookie", "; ".join(f"{name}={value}" for name, value in cookies.items())))
        body = b""
        if json is not _UNSET:
            body = json_module.dumps(json).encode()
            if not any(name.lower() == "content-type" for name, _ in sent):
                sent.append(("content-type", "application/json"))
        elif content is not None:
            body = content.encode() if isinstance(content, str) else content
        answer: asyncio.Future[Answer] = self._loop.create_future()

        def done(status: int, response_headers: List[Tuple[str, str]], response_body: bytes) -> None:
            self._loop.call_soon_threadsafe(_resolve, answer, (status, response_headers, response_body))

        self._service.send(method.upper(), target, sent, body, done)
        return answer

    async def _answered(self, answer: "asyncio.Future[Answer]") -> TestResponse:
        status, response_headers, response_body = await asyncio.wait_for(answer, self._timeout)
        # Teardowns and background tasks of the request finish before the test goes on.
        await asyncio.wait_for(self._dispatcher.settle(answered_only=True), self._timeout)
        return TestResponse(status, response_headers, response_body)

    async def _start(self) -> None:
        await self._app._lifespan.startup()
        self._started = True

    async def _stop(self) -> None:
        """Lets running handlers finish, runs the lifespan's shutdown, releases the pool."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._dispatcher.settle()
            if self._started:
                await self._app._lifespan.shutdown()
        finally:
            self._dispatcher.detach()
            self._dispatcher.close()


class TestClient(_Client):
    """Sends requests to an ``App`` in-process. Synchronous: call it from plain test functions
    (not from inside a running event loop). Use it as a context manager (which also runs the
    app's lifespan), or call ``close()``."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: App, *, headers: Optional[Headers] = None, timeout: float = 30.0) -> None:
        super().__init__(app, asyncio.new_event_loop(), headers, timeout)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Optional[QueryParams] = None,
        headers: Optional[Headers] = None,
        cookies: Optional[Mapping[str, str]] = None,
        json: Any = _UNSET,
        content: Union[bytes, str, None] = None,
    ) -> TestResponse:
        """Sends one request; ``json`` (serialized, with its content type) or ``content``."""
        answer = self._send(method, url, params, headers, cookies, json, content)
        return self._loop.run_until_complete(self._answered(answer))

    def get(self, url: str, **options: Any) -> TestResponse:
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> TestResponse:
        return self.request("POST", url, **options)

    def put(self, url: str, **options: Any) -> TestResponse:
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options: Any) -> TestResponse:
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options: Any) -> TestResponse:
        return self.request("DELETE", url, **options)

    def head(self, url: str, **options: Any) -> TestResponse:
        return self.request("HEAD", url, **options)

    def options(self, url: str, **options: Any) -> TestResponse:
        return self.request("OPTIONS", url, **options)

    def close(self) -> None:
        """Lets running handlers finish, runs the lifespan's shutdown if it started, then
        releases the loop."""
        if self._closed:
            return
        try:
            self._loop.run_until_complete(self._stop())
        finally:
            self._loop.close()

    def __enter__(self) -> "TestClient":
        try:
            self._loop.run_until_complete(self._start())
        except BaseException:
            self.close()  # a failed startup leaves nothing behind
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncClient(_Client):
    """``TestClient`` for async tests, httpx's ``AsyncClient`` shape: ``await
    client.get(...)``. It runs the handlers on the running loop, so create it inside one (an
    ``async def`` test). ``async with`` also runs the app's lifespan; else ``await aclose()``."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: App, *, headers: Optional[Headers] = None, timeout: float = 30.0) -> None:
        super().__init__(app, asyncio.get_running_loop(), headers, timeout)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Optional[QueryParams] = None,
        headers: Optional[Headers] = None,
        cookies: Optional[Mapping[str, str]] = None,
        json: Any = _UNSET,
        content: Union[bytes, str, None] = None,
    ) -> TestResponse:
        """Sends one request; ``json`` (serialized, with its content type) or ``content``."""
        return await self._answered(self._send(method, url, params, headers, cookies, json, content))

    async def get(self, url: str, **options: Any) -> TestResponse:
        return await self.request("GET", url, **options)

    async def post(self, url: str, **options: Any) -> TestResponse:
        return await self.request("POST", url, **options)

    async def put(self, url: str, **options: Any) -> TestResponse:
        return await self.request("PUT", url, **options)

    async def patch(self, url: str, **options: Any) -> TestResponse:
        return await self.request("PATCH", url, **options)

    async def delete(self, url: str, **options: Any) -> TestResponse:
        return await self.request("DELETE", url, **options)

    async def head(self, url: str, **options: Any) -> TestResponse:
        return await self.request("HEAD", url, **options)

    async def options(self, url: str, **options: Any) -> TestResponse:
        return await self.request("OPTIONS", url, **options)

    async def aclose(self) -> None:
        """Lets running handlers finish and runs the lifespan's shutdown if it started."""
        await self._stop()

    async def __aenter__(self) -> "AsyncClient":
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


def _resolve(future: "asyncio.Future[Answer]", value: Answer) -> None:
    if not future.done():  # it may have timed out meanwhile
        future.set_result(value)
