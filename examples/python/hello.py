"""The Python quick start: a service declared in code, with a Pydantic body.

    bash ci/python-env                      # builds the wheel and installs it into .venv
    .venv/bin/python examples/python/hello.py
    curl localhost:8080/hello/ada
    curl -X POST localhost:8080/greetings -H 'content-type: application/json' -d '{"name": "Ada", "times": 2}'
    curl localhost:8080/openapi.json

Written the FastAPI way: the signatures declare the contract (a path parameter, a model body,
a response model). Every request goes through the whole pipeline: request id, trace context,
validation of the path parameter and the body against that contract, problem responses,
telemetry. docs/migrating-from-fastapi.md has the rest.
"""

from __future__ import annotations

import os
from typing import Dict

from pydantic import BaseModel, Field

import armature
from armature import HTTPException

app = armature.App(title="hello", version="1.0.0")


class Greeting(BaseModel):
    name: str = Field(min_length=1)
    times: int = Field(default=1, ge=1, le=5)


class Greeted(BaseModel):
    text: str


@app.get("/hello/{name}")
def hello(name: str) -> Dict[str, str]:
    return {"hello": name}


@app.post("/greetings", status_code=201)
async def greet(greeting: Greeting) -> Greeted:
    if greeting.name == "nobody":
        raise HTTPException(422, "nobody cannot be greeted")
    return Greeted(text=" ".join([f"Hello, {greeting.name}!"] * greeting.times))


if __name__ == "__main__":
    app.run(port=int(os.environ.get("PORT", "8080")))  # PORT: ci/test-release runs it on a free one
