"""Testing without a socket: ``TestClient`` sends requests through the whole pipeline
(routing, identity, policy, validation, problem responses, telemetry) in-process, and runs the
handlers on a private event loop while it waits::

    from armature.testing import TestClient

    def test_hello() -> None:
        with TestClient(app) as client:
            response = client.get("/hello/ada")
            assert response.status_code == 200
            assert response.json() == {"hello": "ada"}
"""

from __future__ import annotations

import asyncio
import json as json_module
from typing import Any, Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlencode

from ._app import App
from ._dispatch import Dispatcher
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


class TestClient:
    """Sends requests to an ``App`` in-process. Synchronous: call it from plain test functions
    (not from inside a running event loop). Use it as a context manager, or call ``close()``."""

    __test__ = False  # not a pytest test class

    def __init__(self, app: App, *, headers: Optional[Headers] = None, timeout: float = 30.0) -> None:
        self._service = app.build()
        self._loop = asyncio.new_event_loop()
        self._dispatcher = Dispatcher(self._service, app._operations, self._loop)
        self._dispatcher.attach()
        self._headers = _header_list(headers)
        self._timeout = timeout
        self._closed = False

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
        if self._closed:
            raise RuntimeError("this TestClient is closed")
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
        answer: asyncio.Future[Tuple[int, List[Tuple[str, str]], bytes]] = self._loop.create_future()

        def done(status: int, response_headers: List[Tuple[str, str]], response_body: bytes) -> None:
            self._loop.call_soon_threadsafe(_resolve, answer, (status, response_headers, response_body))

        self._service.send(method.upper(), target, sent, body, done)
        status, response_headers, response_body = self._loop.run_until_complete(
            asyncio.wait_for(answer, self._timeout)
        )
        return TestResponse(status, response_headers, response_body)

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
        """Lets running async handlers finish, then releases the loop."""
        if self._closed:
            return
        self._closed = True
        try:
            self._loop.run_until_complete(self._dispatcher.settle())
        finally:
            self._dispatcher.detach()
            self._loop.close()

    def __enter__(self) -> "TestClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _resolve(
    future: "asyncio.Future[Tuple[int, List[Tuple[str, str]], bytes]]",
    value: Tuple[int, List[Tuple[str, str]], bytes],
) -> None:
    if not future.done():  # it may have timed out meanwhile
        future.set_result(value)
