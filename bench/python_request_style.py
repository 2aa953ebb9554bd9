"""The four benchmark endpoints of the Python conformance service written in the request style
(``request.path_params[...]``, ``request.json()``), inline on the loop: ci/bench's
``python-request`` row, the figure the typed style (``python-inline``, same threading) is held
to. Same contract, configuration and policy as ``ci/serve python``; the operations it does not
bind answer 501.

    CONFORMANCE_JWT_SECRET=... ARMATURE_SERVER__PORT=8080 .venv/bin/python bench/python_request_style.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import armature
from armature import Request, Response

CONFORMANCE = Path(__file__).resolve().parents[1] / "conformance"

app = armature.App(contract=CONFORMANCE / "contract.yaml", config=CONFORMANCE / "config.yaml", threadpool=False)


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


if __name__ == "__main__":
    app.run()
