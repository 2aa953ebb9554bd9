"""Testing the quick start with the pytest plugin's fixtures: `armature_app` is overridden
here (or set `armature_app = "hello:app"` in the pytest configuration) and `armature_client`
sends requests through the whole pipeline in-process.

    .venv/bin/pytest examples/python
"""

from __future__ import annotations

import pytest

from armature import App
from armature.testing import TestClient

from hello import app as hello_app


@pytest.fixture
def armature_app() -> App:
    return hello_app


def test_hello(armature_client: TestClient) -> None:
    response = armature_client.get("/hello/ada")
    assert response.status_code == 200
    assert response.json() == {"hello": "ada"}


def test_greeting_is_validated(armature_client: TestClient) -> None:
    assert armature_client.post("/greetings", json={"name": "Ada", "times": 2}).json() == {
        "text": "Hello, Ada! Hello, Ada!"
    }
    assert armature_client.post("/greetings", json={"name": "", "times": 9}).status_code == 400
    refused = armature_client.post("/greetings", json={"name": "nobody"})
    assert (refused.status_code, refused.json()["detail"]) == (422, "nobody cannot be greeted")
