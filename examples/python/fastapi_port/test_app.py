"""One suite, two applications: ``original/app.py`` (FastAPI) and ``port/app.py`` (its
Armature port). Every test runs once per kind in ``KINDS``.

Success answers and refusal statuses are the same by design and are asserted the same way for
both. Error bodies differ by design and go through two helpers:

- ``assert_refused``: an ``HTTPException`` raised by the application. FastAPI answers
  ``{"detail": ...}``; Armature answers an RFC 9457 ``application/problem+json`` body.
- ``assert_invalid``: the request breaks a declared constraint. FastAPI answers 422 with
  ``detail`` a list of errors (``loc`` such as ``["query", "limit"]``); Armature answers 400
  ``request-validation`` with ``errors`` items (``location`` and a JSON ``pointer``).

    /tmp/fastapi-venv/bin/python -m pytest -q test_app.py
"""

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Dict, Iterator, List

import pytest

# original/ and port/ are imported from this folder. No conftest.py here: examples/python has
# one already, and ci/test-python's single `mypy --strict examples/python` run would see two
# modules named conftest.
HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
KINDS = ["fastapi", "armature"]
MODULES = {"fastapi": "original.app", "armature": "port.app"}

ADMIN = {"id": 1, "email": "admin@example.com", "full_name": "Admin", "is_active": True}
INACTIVE = {"id": 2, "email": "inactive@example.com", "full_name": None, "is_active": False}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def module(kind: str) -> ModuleType:
    """The application module, emptied by its ``reset()``; it also holds the hooks
    ``sent_emails``, ``closed_sessions`` and ``events``."""
    if kind == "fastapi":
        pytest.importorskip("fastapi.testclient")  # fastapi, and httpx2 that its client sends with
    else:
        if not (HERE / "port" / "app.py").exists():
            pytest.skip("no Armature port yet (port/app.py)")
        pytest.importorskip("armature")
    loaded = importlib.import_module(MODULES[kind])
    loaded.reset()
    return loaded


def make_client(kind: str, module: ModuleType) -> Any:
    """A test client for the module's ``app``, not yet entered (entering runs the lifespan).
    Imported at run time, so that this file type-checks where only one framework is installed."""
    testing = importlib.import_module(
        "fastapi.testclient" if kind == "fastapi" else "armature.testing"
    )
    return testing.TestClient(module.app)


@pytest.fixture
def client(kind: str, module: ModuleType) -> Iterator[Any]:
    with make_client(kind, module) as entered:
        yield entered


# --------------------------------------------------------------------------- helpers


def token(user_id: int) -> Dict[str, str]:
    return {"X-Token": f"fake-token-{user_id}"}


def problem(response: Any, status: int) -> Dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: Dict[str, Any] = response.json()
    assert body["status"] == status
    assert "title" in body and "type" in body
    return body


def assert_refused(response: Any, kind: str, status: int, detail: str) -> None:
    """An ``HTTPException(status, detail)`` raised by the application."""
    if kind == "fastapi":
        assert response.status_code == status, response.text
        assert response.json() == {"detail": detail}
    else:
        assert problem(response, status)["detail"] == detail


def assert_invalid(response: Any, kind: str, location: str, field: str) -> None:
    """A request that breaks a declared constraint of ``field`` at ``location`` (``"query"``,
    ``"path"``, ``"body"`` or ``"header"``)."""
    if kind == "fastapi":
        assert response.status_code == 422, response.text
        errors: List[Dict[str, Any]] = response.json()["detail"]
        assert any(e["loc"][0] == location and field in e["loc"] for e in errors), errors
    else:
        body = problem(response, 400)
        assert body["type"] == "https://armature.dev/problems/request-validation"
        assert any(names(item, location, field) for item in body["errors"]), body["errors"]


def names(item: Dict[str, Any], location: str, field: str) -> bool:
    """Whether one Armature validation error is about ``field`` at ``location``: its pointer
    names the field (``/limit``, ``/title``; header names compared case-insensitively), or, for
    a missing required body property, the pointer is the object's and the message names it
    (``"password" is a required property``)."""
    if item["location"] != location:
        return False
    pointer: str = item["pointer"]
    if field.lower() in pointer.lower():
        return True
    return location == "body" and pointer == "" and f'"{field}"' in item["message"]


def create_user(client: Any, email: str, full_name: Any = None) -> Dict[str, Any]:
    response = client.post(
        "/users/", json={"email": email, "full_name": full_name, "password": "secret"}
    )
    assert response.status_code == 201, response.text
    body: Dict[str, Any] = response.json()
    return body


def create_item(client: Any, user_id: int, title: str, price: float = 9.5) -> Dict[str, Any]:
    response = client.post("/items/", json={"title": title, "price": price}, headers=token(user_id))
    assert response.status_code == 201, response.text
    body: Dict[str, Any] = response.json()
    return body


# --------------------------------------------------------------------------- application


def test_health(client: Any, module: ModuleType) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"status": "ok"}
    assert module.closed_sessions == []  # no database dependency here


def test_version_is_plain_text(client: Any) -> None:
    response = client.get("/version")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "1.0"


def test_lifespan_runs_around_the_client(kind: str, module: ModuleType) -> None:
    assert module.events == []
    with make_client(kind, module) as client:
        assert module.events == ["startup"]
        assert client.get("/users/1").json() == ADMIN  # seeded at startup
        assert client.get("/users/2").json() == INACTIVE
    assert module.events == ["startup", "shutdown"]


# --------------------------------------------------------------------------- users


def test_create_user(client: Any, module: ModuleType) -> None:
    response = client.post(
        "/users/",
        json={"email": "ada@example.com", "full_name": "Ada Lovelace", "password": "engine"},
    )
    assert response.status_code == 201
    body = response.json()
    assert body == {
        "id": 3,
        "email": "ada@example.com",
        "full_name": "Ada Lovelace",
        "is_active": True,
    }
    assert "password" not in body and "hashed_password" not in body
    assert client.get("/users/3").json() == body
    assert client.get("/users/me", headers=token(3)).json() == body


def test_create_user_full_name_is_optional(client: Any) -> None:
    response = client.post("/users/", json={"email": "bob@example.com", "password": "pw"})
    assert response.status_code == 201
    assert response.json() == {
        "id": 3,
        "email": "bob@example.com",
        "full_name": None,
        "is_active": True,
    }


def test_create_user_sends_welcome_email_in_background(client: Any, module: ModuleType) -> None:
    assert module.sent_emails == []
    create_user(client, "ada@example.com")
    assert module.sent_emails == ["ada@example.com"]
    create_user(client, "bob@example.com")
    assert module.sent_emails == ["ada@example.com", "bob@example.com"]


def test_create_user_duplicate_email(client: Any, kind: str, module: ModuleType) -> None:
    create_user(client, "ada@example.com")
    again = client.post("/users/", json={"email": "ada@example.com", "password": "x"})
    assert_refused(again, kind, 400, "Email already registered")
    seeded = client.post("/users/", json={"email": "admin@example.com", "password": "x"})
    assert_refused(seeded, kind, 400, "Email already registered")
    assert module.sent_emails == ["ada@example.com"]  # no task for a refused request


def test_list_users(client: Any) -> None:
    for name in ("ada", "bob", "cy"):
        create_user(client, f"{name}@example.com")
    response = client.get("/users/")
    assert response.status_code == 200
    assert [user["id"] for user in response.json()] == [1, 2, 3, 4, 5]
    assert response.json()[0] == ADMIN
    page = client.get("/users/", params={"skip": 1, "limit": 2})
    assert page.status_code == 200
    assert [user["id"] for user in page.json()] == [2, 3]
    assert client.get("/users/", params={"skip": 10}).json() == []
    assert len(client.get("/users/", params={"limit": 1}).json()) == 1
    assert len(client.get("/users/", params={"limit": 100}).json()) == 5


def test_read_user(client: Any, kind: str) -> None:
    response = client.get("/users/1")
    assert response.status_code == 200
    assert response.json() == ADMIN
    assert_refused(client.get("/users/999"), kind, 404, "User not found")


def test_read_me(client: Any) -> None:
    response = client.get("/users/me", headers=token(1))
    assert response.status_code == 200
    assert response.json() == ADMIN


def test_read_me_without_token(client: Any, kind: str) -> None:
    assert_invalid(client.get("/users/me"), kind, "header", "x-token")


def test_read_me_with_unknown_token(client: Any, kind: str, module: ModuleType) -> None:
    response = client.get("/users/me", headers={"X-Token": "fake-token-999"})
    assert_refused(response, kind, 401, "Invalid token")
    assert_refused(client.get("/users/me", headers={"X-Token": "nope"}), kind, 401, "Invalid token")
    # the session was closed although get_current_user raised after get_db had yielded
    assert len(module.closed_sessions) == 2


def test_read_me_inactive_user(client: Any, kind: str) -> None:
    assert_refused(client.get("/users/me", headers=token(2)), kind, 400, "Inactive user")


# --------------------------------------------------------------------------- items


def test_items_crud(client: Any, kind: str) -> None:
    created = client.post(
        "/items/",
        json={"title": "Apple pie", "description": "Warm", "price": 4.5},
        headers=token(1),
    )
    assert created.status_code == 201
    item = created.json()
    assert item == {
        "id": 1,
        "title": "Apple pie",
        "description": "Warm",
        "price": 4.5,
        "owner_id": 1,
    }

    assert client.get("/items/1").status_code == 200
    assert client.get("/items/1").json() == item
    assert client.get("/items/").json() == [item]

    updated = client.put("/items/1", json={"title": "Apple tart", "price": 5}, headers=token(1))
    assert updated.status_code == 200
    changed = {"id": 1, "title": "Apple tart", "description": None, "price": 5.0, "owner_id": 1}
    assert updated.json() == changed
    assert client.get("/items/1").json() == changed

    deleted = client.delete("/items/1", headers=token(1))
    assert deleted.status_code == 204
    assert deleted.text == ""
    assert_refused(client.get("/items/1"), kind, 404, "Item not found")
    assert client.get("/items/").json() == []


def test_items_owner_is_the_current_user(client: Any) -> None:
    create_user(client, "ada@example.com")
    assert create_item(client, 3, "Slide rule")["owner_id"] == 3
    assert create_item(client, 1, "Abacus")["owner_id"] == 1


def test_items_only_the_owner_may_change(client: Any, kind: str) -> None:
    create_user(client, "ada@example.com")
    create_item(client, 1, "Abacus")
    body = {"title": "Mine now", "price": 1}
    forbidden = "Not enough permissions"
    assert_refused(client.put("/items/1", json=body, headers=token(3)), kind, 403, forbidden)
    assert_refused(client.delete("/items/1", headers=token(3)), kind, 403, forbidden)
    assert client.get("/items/1").json()["title"] == "Abacus"
    assert_refused(client.put("/items/9", json=body, headers=token(1)), kind, 404, "Item not found")
    assert_refused(client.delete("/items/9", headers=token(1)), kind, 404, "Item not found")


def test_items_need_an_active_user(client: Any, kind: str) -> None:
    body = {"title": "Abacus", "price": 1}
    assert_invalid(client.post("/items/", json=body), kind, "header", "x-token")
    bad = {"X-Token": "bad"}
    assert_refused(client.post("/items/", json=body, headers=bad), kind, 401, "Invalid token")
    assert_refused(client.post("/items/", json=body, headers=token(2)), kind, 400, "Inactive user")
    assert client.get("/items/").json() == []


def test_items_q_filter(client: Any) -> None:
    for title in ("Apple pie", "Banana bread", "Apple juice"):
        create_item(client, 1, title)

    def titles(response: Any) -> List[str]:
        return [item["title"] for item in response.json()]

    assert titles(client.get("/items/", params={"q": "Apple"})) == ["Apple pie", "Apple juice"]
    assert titles(client.get("/items/", params={"q": "bread"})) == ["Banana bread"]
    assert titles(client.get("/items/", params={"q": "zzz"})) == []
    assert len(client.get("/items/").json()) == 3


def test_items_pagination(client: Any) -> None:
    for number in range(1, 6):
        create_item(client, 1, f"Item {number}")
    page = client.get("/items/", params={"skip": 2, "limit": 2})
    assert page.status_code == 200
    assert [item["id"] for item in page.json()] == [3, 4]
    filtered = client.get("/items/", params={"limit": 3, "q": "Item"})
    assert [item["id"] for item in filtered.json()] == [1, 2, 3]


def test_items_router_dependency(client: Any, kind: str) -> None:
    create_item(client, 1, "Abacus")
    old = {"X-Client-Version": "0"}
    assert_refused(client.get("/items/", headers=old), kind, 400, "Unsupported client")
    assert_refused(client.get("/items/1", headers=old), kind, 400, "Unsupported client")
    refused = client.post("/items/", json={"title": "T", "price": 1}, headers={**old, **token(1)})
    assert_refused(refused, kind, 400, "Unsupported client")
    assert client.get("/items/", headers={"X-Client-Version": "2"}).status_code == 200
    assert client.get("/items/").status_code == 200
    # the router dependency is not on the users router
    assert client.get("/users/1", headers=old).status_code == 200


# --------------------------------------------------------------------------- dependency with yield


def test_get_db_teardown_runs_per_request(client: Any, module: ModuleType) -> None:
    assert module.closed_sessions == []
    assert client.get("/users/1").status_code == 200
    assert len(module.closed_sessions) == 1
    assert client.get("/health").status_code == 200
    assert len(module.closed_sessions) == 1
    # get_db is used twice here (through get_current_user and by the endpoint): one session
    create_item(client, 1, "Abacus")
    assert len(module.closed_sessions) == 2
    create_user(client, "ada@example.com")
    assert client.delete("/items/1", headers=token(1)).status_code == 204
    assert len(module.closed_sessions) == 4
    assert len(set(module.closed_sessions)) == 4  # a new session each time


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "path, params",
    [
        ("/users/", {"limit": 0}),
        ("/users/", {"limit": 101}),
        ("/items/", {"limit": 0}),
        ("/items/", {"limit": 101}),
        ("/users/", {"limit": "ten"}),
    ],
)
def test_invalid_limit(client: Any, kind: str, path: str, params: Dict[str, Any]) -> None:
    assert_invalid(client.get(path, params=params), kind, "query", "limit")


def test_invalid_skip(client: Any, kind: str) -> None:
    assert_invalid(client.get("/users/", params={"skip": "x"}), kind, "query", "skip")


@pytest.mark.parametrize(
    "path, field",
    [("/users/abc", "user_id"), ("/items/abc", "item_id"), ("/users/1.5", "user_id")],
)
def test_invalid_path_parameter(client: Any, kind: str, path: str, field: str) -> None:
    assert_invalid(client.get(path), kind, "path", field)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"title": "Abacus", "price": 0}, "price"),
        ({"title": "Abacus", "price": -1}, "price"),
        ({"title": "Abacus", "price": "free"}, "price"),
        ({"title": "", "price": 1}, "title"),
        ({"title": "x" * 101, "price": 1}, "title"),
        ({"price": 1}, "title"),
        ({"title": "Abacus"}, "price"),
    ],
)
def test_invalid_item_body(client: Any, kind: str, body: Dict[str, Any], field: str) -> None:
    assert_invalid(client.post("/items/", json=body, headers=token(1)), kind, "body", field)
    assert_invalid(client.put("/items/1", json=body, headers=token(1)), kind, "body", field)


def test_item_title_limits_are_inclusive(client: Any) -> None:
    assert create_item(client, 1, "x")["title"] == "x"
    assert create_item(client, 1, "x" * 100)["title"] == "x" * 100


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "ada@example.com"}, "password"),
        ({"password": "secret"}, "email"),
        ({"email": 42, "password": "secret"}, "email"),
    ],
)
def test_invalid_user_body(
    client: Any, kind: str, module: ModuleType, body: Dict[str, Any], field: str
) -> None:
    assert_invalid(client.post("/users/", json=body), kind, "body", field)
    assert module.sent_emails == []


# --------------------------------------------------------------------------- the port itself

# The lines of original/app.py the port changes, and what they become (docs/migrating-from-fastapi.md
# shows this diff): the imports, and FastAPI's class name.
PORTED_LINES = {
    "from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, HTTPException, Query": (
        "from armature import APIRouter, App, BackgroundTasks, Depends, Header, HTTPException, PlainTextResponse, Query"
    ),
    "from fastapi.responses import PlainTextResponse": None,
    "async def lifespan(app: FastAPI) -> AsyncIterator[None]:": "async def lifespan(app: App) -> AsyncIterator[None]:",
    'app = FastAPI(title="Users and items", lifespan=lifespan)': 'app = App(title="Users and items", lifespan=lifespan)',
}


def without_docstring(source: str) -> List[str]:
    return source.split('"""', 2)[2].splitlines()


def test_the_port_differs_from_the_original_only_in_the_documented_lines() -> None:
    ported: List[str] = []
    for line in without_docstring((HERE / "original" / "app.py").read_text()):
        replacement = PORTED_LINES.get(line, line)
        if replacement is not None:
            ported.append(replacement)
    assert without_docstring((HERE / "port" / "app.py").read_text()) == ported
