"""What a handler may return or raise besides plain values."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple, Union

from . import _native

Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]]]

_UNSET: Any = object()

# What each kind of Response body is to core's answer rule.
_KINDS = {"json": _native.BODY_JSON, "text": _native.BODY_TEXT, "bytes": _native.BODY_BINARY, "empty": _native.BODY_EXACT}


class Response:
    """A response with an explicit status, headers and body.

    Give at most one of ``json`` (any JSON-serializable value), ``text`` or ``body`` (bytes)::

        return Response(status=201, json={"id": 1}, headers={"Location": "/users/1"})

    With none of them the response has no body (``Response(status=204)``). The content type
    defaults to ``application/json``, ``text/plain; charset=utf-8`` or
    ``application/octet-stream``; ``content_type`` overrides it.

    FastAPI's (Starlette's) form works too: ``Response(content, status_code=, headers=,
    media_type=)``, where ``content`` is ``str`` (text) or ``bytes`` (body).
    """

    __slots__ = ("status", "headers", "content_type", "_kind", "_payload")

    def __init__(
        self,
        content: Union[str, bytes, None] = None,
        status_code: Optional[int] = None,
        headers: Optional[Headers] = None,
        media_type: Optional[str] = None,
        *,
        status: int = 200,
        json: Any = _UNSET,
        text: Optional[str] = None,
        body: Optional[bytes] = None,
        content_type: Optional[str] = None,
    ) -> None:
        if isinstance(content, str):
            text = _only(text, content, "content and text")
        elif isinstance(content, (bytes, bytearray, memoryview)):
            body = _only(body, bytes(content), "content and body")
        elif content is not None:
            raise TypeError(f"content is str or bytes, not {type(content).__name__}; use JSONResponse for values")
        if status_code is not None:
            status = status_code
        if media_type is not None:
            content_type = _only(content_type, media_type, "media_type and content_type")
        given = sum(1 for value in (json is not _UNSET, text is not None, body is not None) if value)
        if given > 1:
            raise ValueError("give at most one of json, text and body")
        self.status = status
        self.headers: list[tuple[str, str]] = _header_list(headers)
        self.content_type = content_type
        if json is not _UNSET:
            self._kind, self._payload = "json", json
        elif text is not None:
            self._kind, self._payload = "text", text
        elif body:
            self._kind, self._payload = "bytes", body
        else:
            # No body at all: no content type either, unless one is named.
            self._kind, self._payload = "empty", b""

    def __repr__(self) -> str:
        return f"<armature.Response status={self.status} {self._kind}>"

    def _send(self, request: Any) -> None:
        """Hands the response to core, whose answer rule sets the content type: the one named
        here, unless a ``Content-Type`` header overrides it."""
        request._answer(self.status, _KINDS[self._kind], self._payload, self.content_type, self.headers or None)


class JSONResponse(Response):
    """FastAPI's ``JSONResponse(content, status_code=200, headers=None, media_type=None)``."""

    def __init__(
        self,
        content: Any = None,
        status_code: int = 200,
        headers: Optional[Headers] = None,
        media_type: Optional[str] = None,
    ) -> None:
        super().__init__(status=status_code, json=content, headers=headers, content_type=media_type)


class PlainTextResponse(Response):
    """FastAPI's ``PlainTextResponse(content, status_code=200, headers=None)``: ``text/plain``."""

    def __init__(
        self,
        content: str = "",
        status_code: int = 200,
        headers: Optional[Headers] = None,
        media_type: Optional[str] = None,
    ) -> None:
        super().__init__(status=status_code, text=content, headers=headers, content_type=media_type)


class HTMLResponse(Response):
    """FastAPI's ``HTMLResponse(content, status_code=200, headers=None)``: ``text/html``."""

    def __init__(self, content: str = "", status_code: int = 200, headers: Optional[Headers] = None) -> None:
        super().__init__(status=status_code, text=content, headers=headers, content_type="text/html; charset=utf-8")


class RedirectResponse(Response):
    """FastAPI's ``RedirectResponse(url, status_code=307, headers=None)``: no body, a
    ``location`` header."""

    def __init__(self, url: str, status_code: int = 307, headers: Optional[Headers] = None) -> None:
        if not 300 <= status_code <= 399:
            raise ValueError(f"a redirect's status is 3xx, not {status_code}")
        super().__init__(status=status_code, headers=[*_header_list(headers), ("location", str(url))])


class HTTPError(Exception):
    """Raise to refuse a request on purpose: Armature answers an RFC 9457 problem
    (``type`` ending in ``/refused``) with this status (400-599) and ``detail``, which, unlike
    an unexpected exception's message, is shown to the client::

        raise HTTPError(404, "no user 42")
    """

    def __init__(self, status: int, detail: str = "") -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"HTTPError status must be 400-599, not {status}")
        super().__init__(status, detail)
        self.status = status
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}" if self.detail else str(self.status)


class HTTPException(HTTPError):
    """FastAPI's ``HTTPException(status_code, detail)``: the same intended refusal as
    ``HTTPError``, answered as an RFC 9457 problem (not FastAPI's ``{"detail": ...}``). A
    ``detail`` that is not a string is shown as its JSON text. Response headers on a refusal
    are not supported: the problem's headers are core's."""

    def __init__(self, status_code: int, detail: Any = None) -> None:
        if detail is None:
            text = ""
        elif isinstance(detail, str):
            text = detail
        else:
            import json

            text = json.dumps(detail, default=str)
        super().__init__(status_code, text)
        self.status_code = status_code


def _only(first: Any, second: Any, names: str) -> Any:
    if first is not None:
        raise ValueError(f"give one of {names}")
    return second


def _header_list(headers: Optional[Headers]) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(name), str(value)) for name, value in headers.items()]
    return [(str(name), str(value)) for name, value in headers]
