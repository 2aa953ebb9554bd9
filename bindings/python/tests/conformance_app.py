"""The conformance handlers in Python: every operation of conformance/contract.yaml, answering
what conformance/README.md lists (the same answers as the Rust and C services).

Written the FastAPI way: typed arguments read by name (path, then query parameter), markers for
headers and cookies, Pydantic models for JSON bodies, dependencies for what several handlers
read (the identity); ``request: Request`` only where a handler needs the raw request (its body
as bytes, its context). Core has decoded, typed and validated every one of them first.

`ci/serve python` runs this file from the repository root: it reads conformance/config.yaml and
conformance/contract.yaml from there, with ARMATURE_* environment overrides. The tests import
`app` from it to run the cases through TestClient. CONFORMANCE_THREADPOOL=0 runs the plain
``def`` handlers inline on the loop instead of in the thread pool (ci/bench measures both).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Dict, List, Optional

from pydantic import BaseModel

import armature
from armature import Cookie, Depends, Header, Request, Response

CONFORMANCE = Path(__file__).resolve().parents[3] / "conformance"

app = armature.App(
    contract=CONFORMANCE / "contract.yaml",
    config=CONFORMANCE / "config.yaml",
    threadpool=os.environ.get("CONFORMANCE_THREADPOOL", "1") != "0",
)


class UserIn(BaseModel):
    """The contract's User as a request body (core has validated it: no other key gets here)."""

    id: Optional[int] = None
    name: str
    email: str
    age: int
    password: Optional[str] = None


class NewNote(BaseModel):
    text: str


def shown(user: UserIn, user_id: int) -> Dict[str, Any]:
    """The user as answered: the keys sent, without the write-only password, with its id."""
    return {**user.model_dump(exclude={"password", "id"}, exclude_unset=True), "id": user_id}


def identity(request: Request) -> Dict[str, Any]:
    return request.identity


def subject(request: Request) -> Optional[str]:
    return request.subject


@app.operation("plaintext")
def plaintext() -> Response:
    return Response(text="Hello, World!", content_type="text/plain")


@app.operation("json")
def json() -> Dict[str, str]:
    return {"message": "Hello, World!"}


@app.operation("getUser")
def get_user(id: int) -> Dict[str, Any]:
    return {"id": id, "name": "Alice", "email": "alice@example.com", "age": 30}


@app.operation("createUser", status=201)
def create_user(user: UserIn) -> Dict[str, Any]:
    return shown(user, 1)


@app.operation("updateUser")
def update_user(id: int, user: UserIn) -> Dict[str, Any]:
    return shown(user, id)


@app.operation("deleteUser")
@app.operation("deleteNote")
def no_content() -> None:
    return None


@app.operation("search")
def search(
    q: str,
    tags: Optional[List[str]] = None,
    ids: Optional[List[int]] = None,
    limit: Optional[int] = None,
    filter: Optional[Dict[str, Any]] = None,
    pipes: Optional[List[str]] = None,
) -> Dict[str, Any]:
    given = {"q": q, "tags": tags, "ids": ids, "limit": limit, "filter": filter, "pipes": pipes}
    return {"query": {name: value for name, value in given.items() if value is not None}}


@app.operation("echoHeaders")
def echo_headers(
    x_tenant: str = Header(),
    x_count: Optional[int] = Header(None),
    session: str = Cookie(),
) -> Dict[str, Any]:
    echoed = {"tenant": x_tenant, "count": x_count, "session": session}
    return {key: value for key, value in echoed.items() if value is not None}


@app.operation("getItems")
def get_items(ids: List[int]) -> Dict[str, Any]:
    return {"ids": ids}


@app.operation("createPet", status=201)
def create_pet(request: Request) -> Response:
    # Echoes the body as sent (a Cat or a Dog, byte for byte).
    return Response(status=201, body=request.body, content_type="application/json")


@app.operation("echoText")
def echo_text(request: Request) -> Response:
    return Response(body=request.body, content_type="text/plain")


@app.operation("context")
def context(request: Request) -> Dict[str, str]:
    return {
        "operation_id": request.operation_id,
        "method": request.method,
        "path": request.path,
        "request_id": request.request_id,
        "trace_id": request.trace_id,
    }


@app.operation("brokenResponse")
def broken_response() -> Dict[str, Any]:
    return {"message": 42}


@app.operation("undocumentedStatus")
def undocumented_status() -> Response:
    return Response(status=418, json={})


@app.operation("failingHandler")
def failing_handler() -> None:
    raise RuntimeError("database exploded")


@app.operation("refusingHandler")
def refusing_handler() -> None:
    raise armature.HTTPException(409, "the handler refused this request")


@app.operation("slowHandler")
async def slow_handler(ms: int) -> Dict[str, int]:
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


@app.operation("droppedResponder")
async def dropped_responder() -> None:
    # A handler cancelled before it answers: the pipeline answers 500 no-response.
    raise asyncio.CancelledError()


@app.operation("whoami")
@app.operation("whoamiOptional")
@app.operation("whoamiBasic")
def whoami(seen: Dict[str, Any] = Depends(identity)) -> Dict[str, Any]:
    return seen


@app.operation("listNotes")
def list_notes(owner: str, request: Request, viewer: Optional[str] = Depends(subject)) -> Dict[str, Any]:
    # x-authz-rule is set by the policy stage, not declared in the contract: read raw.
    return {"owner": owner, "viewer": viewer, "notes": [], "rule": request.header("x-authz-rule")}


@app.operation("createNote", status=201)
def create_note(owner: str, note: NewNote, author: Optional[str] = Depends(subject)) -> Dict[str, Any]:
    return {"owner": owner, "text": note.text, "author": author}


@app.operation("policyError")
def policy_error() -> Dict[str, str]:
    return {"message": "the policy should have refused this"}


@app.operation("contentTypeBoth")
def content_type_both() -> Response:
    return Response("a,b", media_type="text/plain", headers={"Content-Type": "text/csv"})


@app.operation("mixedCaseHeaders")
def mixed_case_headers() -> Response:
    return Response("a,b", headers=[("content-TYPE", "text/csv"), ("X-Custom-HEADER", "yes")])


@app.operation("nothingOk")
def nothing_ok() -> None:
    return None


@app.operation("nothingCreated", status=201)
def nothing_created() -> None:
    return None


@app.operation("orderedKeys")
def ordered_keys() -> Dict[str, Any]:
    return {"id": 1, "owner": "alice", "title": "t", "body": "b"}


@app.operation("outgoingCalls")
def outgoing_calls(request: Request) -> Dict[str, Any]:
    first, second = request.trace.outgoing_headers(), request.trace.outgoing_headers()
    return {"outgoing": [first["traceparent"], second["traceparent"]], "tracestate": first.get("tracestate")}


if __name__ == "__main__":
    app.run()
