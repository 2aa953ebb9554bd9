"""What a handler may return or raise besides plain values."""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple, Union

Headers = Union[Mapping[str, str], Sequence[Tuple[str, str]]]

_UNSET: Any = object()


class Response:
    """A response with an explicit status, headers and body.

    Give at most one of ``json`` (any JSON-serializable value), ``text`` or ``body`` (bytes)::

        return Response(status=201, json={"id": 1}, headers={"Location": "/users/1"})

    With none of them the response has no body (``Response(status=204)``). The content type
    defaults to ``application/json``, ``text/plain; charset=utf-8`` or
    ``application/octet-stream``; ``content_type`` overrides it.
    """

    __slots__ = ("status", "headers", "content_type", "_kind", "_payload")

    def __init__(
        self,
        *,
        status: int = 200,
        json: Any = _UNSET,
        text: Optional[str] = None,
        body: Optional[bytes] = None,
        headers: Optional[Headers] = None,
        content_type: Optional[str] = None,
    ) -> None:
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
        else:
            self._kind, self._payload = "bytes", body if body is not None else b""

    def __repr__(self) -> str:
        return f"<armature.Response status={self.status} {self._kind}>"

    def _send(self, request: Any) -> None:
        headers = self.headers or None
        if self._kind == "json":
            request._respond_json(self.status, self._payload, self.content_type, headers)
        elif self._kind == "text":
            request._respond_text(self.status, self._payload, self.content_type, headers)
        else:
            content_type = self.content_type
            if content_type is None and self._payload:
                content_type = "application/octet-stream"
            request._respond(self.status, self._payload, content_type, headers)


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


def _header_list(headers: Optional[Headers]) -> list[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return [(str(name), str(value)) for name, value in headers.items()]
    return [(str(name), str(value)) for name, value in headers]
