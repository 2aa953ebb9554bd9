"""Typed handler arguments (FastAPI-style): what a signature declares in the contract and what
each argument receives. Through TestClient, so core's validation is part of every check."""

from __future__ import annotations

import enum
from typing import Annotated, Any, Dict, List, Literal, Optional

import pytest
from pydantic import BaseModel

from armature import App, Cookie, Header, Path, Query, Request
from armature.testing import TestClient


class Item(BaseModel):
    name: str
    price: float
    tags: List[str] = []


class Color(str, enum.Enum):
    RED = "red"
    BLUE = "blue"


def typed_app() -> App:
    app = App(title="typed", version="1")

    @app.get("/users/{user_id}")
    def get_user(user_id: int, verbose: bool = False) -> Dict[str, Any]:
        return {"user_id": user_id, "verbose": verbose}

    @app.get("/items")
    def list_items(
        limit: int = Query(10, ge=1, le=100),
        q: Optional[str] = None,
        tags: List[str] = Query([]),
        color: Color = Color.RED,
        order: Literal["asc", "desc"] = "asc",
    ) -> Dict[str, Any]:
        return {"limit": limit, "q": q, "tags": tags, "color": color, "order": order}

    @app.get("/search")
    def search(term: Annotated[str, Query(alias="q", min_length=2)], page: int) -> Dict[str, Any]:
        return {"term": term, "page": page}

    @app.post("/items", status_code=201)
    async def create_item(item: Item, request: Request, dry_run: bool = False) -> Item:
        assert request.method == "POST"
        return Item(name=item.name.upper(), price=item.price, tags=item.tags if not dry_run else [])

    @app.get("/whoami")
    def whoami(
        user_agent: str = Header(),
        tenant: Optional[str] = Header(None, alias="x-tenant"),
        session: Optional[str] = Cookie(None),
    ) -> Dict[str, Any]:
        return {"user_agent": user_agent, "tenant": tenant, "session": session}

    @app.get("/files/{name}")
    def get_file(name: str = Path(pattern="^[a-z]+$")) -> str:
        return name

    @app.get("/legacy/{id}", path_params={"id": {"type": "integer"}})
    def legacy(req):  # type: ignore[no-untyped-def]
        return {"id": req.path_params["id"]}

    return app


@pytest.fixture()
def client() -> Any:
    with TestClient(typed_app()) as client:
        yield client


def test_path_parameters_are_typed_by_core(client: TestClient) -> None:
    assert client.get("/users/42").json() == {"user_id": 42, "verbose": False}
    assert client.get("/users/42?verbose=true").json() == {"user_id": 42, "verbose": True}
    refused = client.get("/users/abc")
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"


def test_query_parameters_defaults_and_constraints(client: TestClient) -> None:
    assert client.get("/items").json() == {"limit": 10, "q": None, "tags": [], "color": "red", "order": "asc"}
    got = client.get("/items?limit=5&q=x&tags=a&tags=b&color=blue&order=desc").json()
    assert got == {"limit": 5, "q": "x", "tags": ["a", "b"], "color": "blue", "order": "desc"}
    for bad in ("limit=0", "limit=101", "limit=x", "color=green", "order=up"):
        assert client.get(f"/items?{bad}").status_code == 400, bad


def test_aliases_and_required_query_parameters(client: TestClient) -> None:
    assert client.get("/search?q=rust&page=2").json() == {"term": "rust", "page": 2}
    assert client.get("/search?q=r&page=2").status_code == 400  # min_length
    assert client.get("/search?q=rust").status_code == 400  # page is required
    assert client.get("/search?term=rust&page=1").status_code == 400  # the wire name is the alias


def test_a_model_parameter_is_the_body(client: TestClient) -> None:
    created = client.post("/items", json={"name": "pen", "price": 1.5, "tags": ["office"]})
    assert created.status_code == 201
    assert created.json() == {"name": "PEN", "price": 1.5, "tags": ["office"]}
    assert client.post("/items?dry_run=true", json={"name": "pen", "price": 1}).json()["tags"] == []
    missing = client.post("/items", json={"name": "pen"})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["location"] == "body"


def test_headers_and_cookies(client: TestClient) -> None:
    got = client.get("/whoami", headers={"user-agent": "probe/1", "x-tenant": "acme", "cookie": "session=s1"})
    assert got.json() == {"user_agent": "probe/1", "tenant": "acme", "session": "s1"}
    assert client.get("/whoami", headers={"user-agent": "probe/1"}).json()["tenant"] is None


def test_path_constraints_and_the_request_style_still_work(client: TestClient) -> None:
    assert client.get("/files/abc").text == "abc"
    assert client.get("/files/ABC").status_code == 400
    assert client.get("/legacy/7").json() == {"id": 7}


def test_the_signature_is_the_served_contract() -> None:
    document = typed_app().openapi()
    get_user = document["paths"]["/users/{user_id}"]["get"]
    assert get_user["parameters"][0] == {"name": "user_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    assert {"name": "verbose", "in": "query", "required": False, "schema": {"type": "boolean", "default": False}} in get_user[
        "parameters"
    ]
    items = {p["name"]: p for p in document["paths"]["/items"]["get"]["parameters"]}
    assert items["limit"]["schema"] == {"type": "integer", "default": 10, "minimum": 1, "maximum": 100}
    assert items["tags"]["schema"] == {"type": "array", "items": {"type": "string"}, "default": []}
    assert items["color"]["schema"] == {"enum": ["red", "blue"], "default": "red"}
    search = {p["name"]: p for p in document["paths"]["/search"]["get"]["parameters"]}
    assert search["q"]["required"] is True and search["q"]["schema"] == {"type": "string", "minLength": 2}
    assert search["page"]["required"] is True
    create = document["paths"]["/items"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    # The return annotation is the response schema (FastAPI's implicit response_model).
    assert create["responses"]["201"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Item"}
    whoami = {p["name"]: p for p in document["paths"]["/whoami"]["get"]["parameters"]}
    assert whoami["user-agent"]["in"] == "header" and whoami["user-agent"]["required"] is True
    assert whoami["x-tenant"]["required"] is False and whoami["session"]["in"] == "cookie"


def test_signatures_that_cannot_be_served_fail_at_registration() -> None:
    app = App()

    class Local(BaseModel):
        x: int

    with pytest.raises(TypeError, match="not in the template"):

        @app.get("/a/{id}")
        def stray(other: int = Path()) -> None: ...

    with pytest.raises(TypeError, match="a parameter is a str, int"):

        @app.get("/b")
        def nested(where: Dict[str, int]) -> None: ...

    with pytest.raises(TypeError, match="the body is one model"):

        @app.post("/c")
        def two(a: Item, b: Item) -> None: ...

    with pytest.raises(TypeError, match="does not resolve"):

        @app.post("/d")
        def local(body: Local) -> None: ...

    with pytest.raises(TypeError, match="cannot be bound"):

        @app.get("/e")
        def splat(*args: Any) -> None: ...


def test_contract_first_operations_read_arguments_by_name() -> None:
    from pathlib import Path as FilePath

    contract = FilePath(__file__).resolve().parents[3] / "conformance" / "contract.yaml"
    app = App(contract=contract, config=contract.parent / "config.yaml")

    @app.operation("getUser")
    def get_user(id: int, request: Request) -> Dict[str, Any]:
        return {"id": id, "name": request.operation_id, "email": "alice@example.com", "age": 36}

    @app.operation("echoHeaders")
    def echo_headers(
        x_tenant: Optional[str] = Header(None), x_count: Optional[int] = Header(None), session: Optional[str] = Cookie(None)
    ) -> Dict[str, Any]:
        echoed = {"tenant": x_tenant, "count": x_count, "session": session}
        return {key: value for key, value in echoed.items() if value is not None}

    with TestClient(app) as client:
        # The contract spells them X-Tenant and X-Count: header names match in any case.
        echoed = client.get("/headers", headers={"x-tenant": "acme", "x-count": "3", "cookie": "session=s"}).json()
        assert echoed == {"tenant": "acme", "count": 3, "session": "s"}
        got = client.get("/users/42")
        assert got.status_code == 200, got.text
        assert (got.json()["id"], got.json()["name"]) == (42, "getUser")


def test_fastapi_response_classes_and_http_exception() -> None:
    from armature import HTMLResponse, HTTPException, JSONResponse, PlainTextResponse, RedirectResponse, Response

    app = App()

    @app.get("/json")
    def json_response() -> JSONResponse:
        return JSONResponse({"ok": True}, status_code=202, headers={"x-kind": "json"})

    @app.get("/text")
    def text_response() -> PlainTextResponse:
        return PlainTextResponse("plain")

    @app.get("/html")
    def html_response() -> HTMLResponse:
        return HTMLResponse("<p>hi</p>")

    @app.get("/raw")
    def raw_response() -> Response:
        return Response(b"\x00\x01", media_type="application/x-raw", status_code=200)

    @app.get("/old")
    def redirect() -> RedirectResponse:
        return RedirectResponse("/new")

    @app.get("/items/{item_id}")
    def missing(item_id: int) -> None:
        raise HTTPException(status_code=404, detail=f"no item {item_id}")

    @app.get("/structured")
    def structured() -> None:
        raise HTTPException(409, detail={"conflict": "name"})

    with TestClient(app) as client:
        got = client.get("/json")
        assert (got.status_code, got.json(), got.headers["x-kind"]) == (202, {"ok": True}, "json")
        assert client.get("/text").headers["content-type"].startswith("text/plain")
        assert client.get("/html").headers["content-type"] == "text/html; charset=utf-8"
        raw = client.get("/raw")
        assert (raw.content, raw.headers["content-type"]) == (b"\x00\x01", "application/x-raw")
        moved = client.get("/old")
        assert (moved.status_code, moved.headers["location"], moved.content) == (307, "/new", b"")
        refused = client.get("/items/3")
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"] == "no item 3"  # a problem body, not FastAPI's {"detail": ...} alone
        assert client.get("/structured").json()["detail"] == '{"conflict": "name"}'

    with pytest.raises(ValueError):
        RedirectResponse("/x", status_code=200)
    with pytest.raises(TypeError):
        Response(123)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Response("a", text="b")


def test_routers_with_prefixes_and_tags() -> None:
    from armature import APIRouter

    users = APIRouter(prefix="/users", tags=["users"])

    @users.get("/{user_id}", tags=["read"])
    def read_user(user_id: int) -> Dict[str, Any]:
        return {"user_id": user_id}

    @users.post("", status_code=201)
    def create_user(item: Item) -> Dict[str, Any]:
        return {"name": item.name}

    admin = APIRouter(prefix="/admin", tags=["admin"])
    admin.include_router(users)
    app = App()
    app.include_router(users)
    app.include_router(admin, prefix="/v1", tags=["internal"])

    document = app.openapi()
    assert document["paths"]["/users/{user_id}"]["get"]["tags"] == ["users", "read"]
    assert document["paths"]["/v1/admin/users/{user_id}"]["get"]["tags"] == ["internal", "admin", "users", "read"]
    assert document["paths"]["/users"]["post"]["tags"] == ["users"]
    with TestClient(app) as client:
        assert client.get("/users/5").json() == {"user_id": 5}
        assert client.get("/v1/admin/users/6").json() == {"user_id": 6}
        assert client.post("/users", json={"name": "pen", "price": 2}).status_code == 201
    with pytest.raises(ValueError, match="prefix"):
        APIRouter(prefix="users/")
