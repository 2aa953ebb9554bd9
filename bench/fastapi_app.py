"""The benchmark's four operations of conformance/contract.yaml, written the usual FastAPI way.

The FastAPI row of ci/bench: the same answers as the conformance services
(conformance/rust-service, ffi/tests/c/conformance_service.c) for plaintext, json, getUser and
createUser, with Pydantic models that carry the contract's constraints, so both sides validate
the request and the response. Run: uvicorn --app-dir bench fastapi_app:app

Differences that remain, by FastAPI's design: a rejected request is answered 422 with FastAPI's
error body (Armature: 400 application/problem+json); text/plain carries "; charset=utf-8";
EmailStr echoes the address normalized (domain lower-cased); no x-request-id or traceparent.
"""

from typing import Annotated

from fastapi import FastAPI, Path
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field

app = FastAPI(title="Armature conformance service (FastAPI baseline)", version="1.0.0")


class Message(BaseModel):
    """components/schemas/Message."""

    message: str


class UserIn(BaseModel):
    """components/schemas/User as a request body: without the read-only id (sending it is an
    error, as in Armature), with the write-only password. Strict, as JSON Schema is: "30" is not
    an integer."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(min_length=1)]
    email: EmailStr
    age: Annotated[int, Field(ge=0, le=150)]
    password: str = ""


class User(BaseModel):
    """components/schemas/User as a response: with the id, never the password."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[int, Field(ge=1)]
    name: Annotated[str, Field(min_length=1)]
    email: EmailStr
    age: Annotated[int, Field(ge=0, le=150)]


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    return "Hello, World!"


@app.get("/json", response_model=Message)
async def json() -> dict:
    return {"message": "Hello, World!"}


@app.get("/users/{id}", response_model=User)
async def get_user(id: Annotated[int, Path(ge=1)]) -> dict:  # noqa: A002 - the contract's name
    return {"id": id, "name": "Alice", "email": "alice@example.com", "age": 30}


@app.post("/users", status_code=201, response_model=User)
async def create_user(user: UserIn) -> dict:
    body = user.model_dump(exclude={"password"})
    body["id"] = 1
    return body
