"""The conformance handlers in Python: every operation of conformance/contract.yaml, answering
what conformance/README.md lists (the same answers as the Rust and C services).

`ci/serve python` runs this file from the repository root: it reads conformance/config.yaml and
conformance/contract.yaml from there, with ARMATURE_* environment overrides. The tests import
`app` from it to run the cases through TestClient.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict

import armature
from armature import Request, Response

CONFORMANCE = Path(__file__).resolve().parents[3] / "conformance"

app = armature.App(contract=CONFORMANCE / "contract.yaml", config=CONFORMANCE / "config.yaml")


@app.operation("plaintext")
def plaintext() -> Response:
    return Response(text="Hello, World!", content_type="text/plain")


@app.operation("json")
def json() -> Dict[str, str]:
    return {"message": "Hello, World!"}


@app.operation("getUser")
def get_user(request: Request) -> Dict[str, Any]:
    return {"id": request.path_params["id"], "name": "Alice", "email": "alice@example.com", "age": 30}


@app.operation("createUser", status=201)
def create_user(request: Request) -> Dict[str, Any]:
    user = {key: value for key, value in request.json().items() if key != "password"}
    user["id"] = 1
    return user


@app.operation("updateUser")
def update_user(request: Request) -> Dict[str, Any]:
    user = {key: value for key, value in request.json().items() if key != "password"}
    user["id"] = request.path_params["id"]
    return user


@app.operation("deleteUser")
@app.operation("deleteNote")
def no_content() -> None:
    return None


@app.operation("search")
def search(request: Request) -> Dict[str, Any]:
    return {"query": request.query}


@app.operation("echoHeaders")
def echo_headers(request: Request) -> Dict[str, Any]:
    headers, cookies = request.header_params, request.cookie_params
    echoed = {"tenant": headers.get("X-Tenant"), "count": headers.get("X-Count"), "session": cookies.get("session")}
    return {key: value for key, value in echoed.items() if value is not None}


@app.operation("getItems")
def get_items(request: Request) -> Dict[str, Any]:
    return {"ids": request.path_params.get("ids")}


@app.operation("createPet", status=201)
def create_pet(request: Request) -> Response:
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
    raise armature.HTTPError(409, "the handler refused this request")


@app.operation("slowHandler")
async def slow_handler(request: Request) -> Dict[str, int]:
    ms = int(request.query.get("ms", 0))
    await asyncio.sleep(ms / 1000)
    return {"slept_ms": ms}


@app.operation("droppedResponder")
async def dropped_responder() -> None:
    # A handler cancelled before it answers: the pipeline answers 500 no-response.
    raise asyncio.CancelledError()


@app.operation("whoami")
@app.operation("whoamiOptional")
def whoami(request: Request) -> Dict[str, Any]:
    return request.identity


@app.operation("listNotes")
def list_notes(request: Request) -> Dict[str, Any]:
    return {
        "owner": request.path_params.get("owner"),
        "viewer": request.subject,
        "notes": [],
        "rule": request.header("x-authz-rule"),
    }


@app.operation("createNote", status=201)
def create_note(request: Request) -> Dict[str, Any]:
    body = request.json()
    return {"owner": request.path_params.get("owner"), "text": body.get("text"), "author": request.subject}


@app.operation("policyError")
def policy_error() -> Dict[str, str]:
    return {"message": "the policy should have refused this"}


if __name__ == "__main__":
    app.run()
