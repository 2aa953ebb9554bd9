"""What typed handler arguments cost per call in Python, against the request-style handler.

Times the dispatcher's call of one handler, without core and without a socket, on a stand-in
request whose maps are prebuilt (core's are built lazily too). Run it in the project's venv:

    .venv/bin/python bench/python_arguments.py

It prints ns per call of each style. Not a test: nothing here fails on time.
"""

from __future__ import annotations

import timeit
from typing import Any, Dict, Iterator, Optional

from pydantic import BaseModel

from armature._depends import Depends, Solution, run_now
from armature._params import Query, read_signature


class User(BaseModel):
    name: str
    age: int


class FakeRequest:
    """The attributes Signature.bind reads, as plain dicts."""

    def __init__(self) -> None:
        self.path_params = {"id": 42}
        self.query = {"limit": 5}
        self.header_params: Dict[str, Any] = {}
        self.cookie_params: Dict[str, Any] = {}
        self.method = "POST"

    def json(self) -> Dict[str, Any]:
        return {"name": "Ada", "age": 36}


def request_style(request: FakeRequest) -> Dict[str, Any]:
    return {"id": request.path_params["id"], "limit": request.query.get("limit", 10)}


def typed_style(id: int, limit: int = Query(10)) -> Dict[str, Any]:
    return {"id": id, "limit": limit}


def request_style_body(request: FakeRequest) -> Dict[str, Any]:
    user = User.model_validate(request.json())
    return {"id": request.path_params["id"], "name": user.name}


def typed_style_body(id: int, user: User, verbose: Optional[bool] = None) -> Dict[str, Any]:
    return {"id": id, "name": user.name}


def current_user(id: int) -> int:
    return id


def session() -> Iterator[str]:
    yield "db"


def with_dependency(user: int = Depends(current_user), limit: int = Query(10)) -> Dict[str, Any]:
    return {"id": user, "limit": limit}


def with_generator_dependency(db: str = Depends(session), limit: int = Query(10)) -> Dict[str, Any]:
    return {"db": db, "limit": limit}


def solved(handler: Any, signature: Any, request: Any) -> Any:
    """What the dispatcher does for a sync operation with dependencies: solve, call, tear down."""
    solution = Solution({}, None)
    result = handler(**run_now(solution.arguments(signature, request)))
    if solution.stack is not None:
        run_now(solution.close(None))
    return result


def main() -> None:
    request = FakeRequest()
    plain = read_signature(typed_style, "/users/{id}")
    body = read_signature(typed_style_body, "/users/{id}")
    depends = read_signature(with_dependency, "/users/{id}")
    generator = read_signature(with_generator_dependency, "/users/{id}")
    cases = {
        "request style, path + query": lambda: request_style(request),
        "typed, path + query": lambda: typed_style(**plain.bind(request)),  # type: ignore[arg-type]
        "request style, path + model body": lambda: request_style_body(request),
        "typed, path + model body + optional query": lambda: typed_style_body(**body.bind(request)),  # type: ignore[arg-type]
        "typed, one dependency reading the path": lambda: solved(with_dependency, depends, request),
        "typed, one yield dependency": lambda: solved(with_generator_dependency, generator, request),
    }
    for name, call in cases.items():
        runs = 200_000
        best = min(timeit.repeat(call, number=runs, repeat=5)) / runs
        print(f"{name:45s} {best * 1e9:8.0f} ns per call")


if __name__ == "__main__":
    main()
