"""Dependencies, background tasks, lifespan, the thread pool for ``def`` handlers and the async
test client: FastAPI's behaviour, through the whole pipeline."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path as FilePath
from typing import Annotated, Any, AsyncIterator, Dict, Iterator, List, Optional

import pytest
from pydantic import BaseModel

from armature import APIRouter, App, BackgroundTasks, ContractError, Depends, Header, HTTPException, Query, Request
from armature.testing import AsyncClient, TestClient

CONFORMANCE = FilePath(__file__).resolve().parents[3] / "conformance"


class Pagination:
    def __init__(self, skip: int = 0, limit: int = Query(10, ge=1, le=50)) -> None:
        self.skip = skip
        self.limit = limit


class Note(BaseModel):
    text: str


def request_method(request: Request) -> str:
    return request.method


def test_dependencies_nested_cached_and_declared_in_the_contract() -> None:
    calls: List[str] = []
    app = App()

    def settings() -> Dict[str, str]:
        calls.append("settings")
        return {"greeting": "hello"}

    def token(x_token: str = Header()) -> str:
        calls.append("token")
        if x_token != "secret":
            raise HTTPException(401, "bad token")
        return x_token

    def user(tok: str = Depends(token), conf: Dict[str, str] = Depends(settings)) -> str:
        calls.append("user")
        return f"{conf['greeting']} {tok}"

    def fresh() -> int:
        calls.append("fresh")
        return len(calls)

    @app.get("/me")
    def me(
        method: Annotated[str, Depends(request_method)],
        who: str = Depends(user),
        conf: Dict[str, str] = Depends(settings),
        page: Pagination = Depends(),
        a: int = Depends(fresh, use_cache=False),
        b: int = Depends(fresh, use_cache=False),
    ) -> Dict[str, Any]:
        return {"who": who, "greeting": conf["greeting"], "skip": page.skip, "limit": page.limit, "fresh": a != b, "m": method}

    with TestClient(app) as client:
        got = client.get("/me?limit=5", headers={"x-token": "secret"})
        assert got.status_code == 200, got.text
        assert got.json() == {"who": "hello secret", "greeting": "hello", "skip": 0, "limit": 5, "fresh": True, "m": "GET"}
        # settings is shared by `user` and the handler: one call per request.
        assert calls == ["token", "settings", "user", "fresh", "fresh"]
        refused = client.get("/me", headers={"x-token": "wrong"})
        assert (refused.status_code, refused.json()["detail"]) == (401, "bad token")
        # A dependency's parameters are the operation's: core refuses them before Python runs.
        assert client.get("/me").status_code == 400  # x-token missing
        assert client.get("/me?limit=51", headers={"x-token": "secret"}).json()["errors"][0]["pointer"] == "/limit"
    operation = app.openapi()["paths"]["/me"]["get"]
    declared = {(p["in"], p["name"]) for p in operation["parameters"]}
    assert declared == {("header", "x-token"), ("query", "skip"), ("query", "limit")}


def test_async_dependencies_generators_and_teardown_after_the_response() -> None:
    events: List[str] = []
    app = App()

    def session() -> Iterator[str]:
        events.append("open")
        try:
            yield "db"
        except RuntimeError as error:
            events.append(f"rollback {error}")
            raise
        finally:
            events.append("close")

    async def cache() -> AsyncIterator[str]:
        events.append("cache open")
        yield "cache"
        events.append("cache close")

    async def user(db: str = Depends(session)) -> str:
        await asyncio.sleep(0)
        return f"user from {db}"

    @app.get("/sync")
    def sync_handler(db: str = Depends(session), request: Request = Depends(lambda request: request)) -> Dict[str, Any]:
        events.append("handler")
        return {"db": db, "method": request.method}

    @app.get("/async")
    async def async_handler(who: str = Depends(user), c: str = Depends(cache)) -> Dict[str, str]:
        events.append("handler")
        return {"who": who, "cache": c}

    @app.get("/sync-with-async-dependency")
    def mixed(who: str = Depends(user)) -> str:
        return who

    @app.get("/fails")
    def fails(db: str = Depends(session)) -> None:
        raise RuntimeError("boom")

    with TestClient(app) as client:
        assert client.get("/sync").json() == {"db": "db", "method": "GET"}
        assert events == ["open", "handler", "close"]
        events.clear()
        assert client.get("/async").json() == {"who": "user from db", "cache": "cache"}
        # Last entered, first closed.
        assert events == ["open", "cache open", "handler", "cache close", "close"]
        assert client.get("/sync-with-async-dependency").text == "user from db"
        events.clear()
        assert client.get("/fails").status_code == 500
        # The handler's exception is thrown in at the yield, after the answer.
        assert events == ["open", "rollback boom", "close"]


def test_overrides_and_route_router_and_app_dependencies() -> None:
    seen: List[str] = []

    def audit(x_client: Optional[str] = Header(None)) -> None:
        seen.append(f"app {x_client}")

    def admin_only(x_role: str = Header()) -> None:
        if x_role != "admin":
            raise HTTPException(403, "admins only")

    def real_user() -> str:
        return "real"

    app = App(dependencies=[Depends(audit)])
    admin = APIRouter(prefix="/admin", dependencies=[Depends(admin_only)])

    @admin.get("/stats", dependencies=[Depends(lambda: seen.append("route"))])
    def stats(user: str = Depends(real_user)) -> Dict[str, str]:
        return {"user": user}

    app.include_router(admin)
    with TestClient(app) as client:
        assert client.get("/admin/stats", headers={"x-role": "user"}).status_code == 403
        got = client.get("/admin/stats", headers={"x-role": "admin", "x-client": "cli"})
        assert got.json() == {"user": "real"}
        assert seen == ["app None", "app cli", "route"]
        # Overrides take effect on the next request...
        app.dependency_overrides[real_user] = lambda: "fake"
        assert client.get("/admin/stats", headers={"x-role": "admin"}).json() == {"user": "fake"}
        app.dependency_overrides[admin_only] = lambda: None
        # ...but the contract of a built service still requires what the replaced one read.
        assert client.get("/admin/stats").status_code == 400
    # A client made after setting them serves the contract the overrides declare.
    with TestClient(app) as client:
        assert client.get("/admin/stats").json() == {"user": "fake"}
        assert "x-role" not in {p["name"] for p in app.openapi()["paths"]["/admin/stats"]["get"]["parameters"]}
    app.dependency_overrides.clear()
    with TestClient(app) as client:
        assert client.get("/admin/stats", headers={"x-role": "admin"}).json() == {"user": "real"}


class Prefixed:
    """A callable instance as a dependency (FastAPI's "parameterized dependencies")."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    async def __call__(self, q: str = "") -> str:
        return self.prefix + q


def test_callable_instances_are_dependencies() -> None:
    app = App()

    @app.get("/prefixed")
    def prefixed(value: str = Depends(Prefixed("x-"))) -> str:
        return value

    with TestClient(app) as client:
        assert client.get("/prefixed?q=1").text == "x-1"
    assert app.openapi()["paths"]["/prefixed"]["get"]["parameters"][0]["name"] == "q"


def test_background_tasks_run_after_the_response_in_order() -> None:
    done: List[str] = []
    app = App()

    async def notify(who: str) -> None:
        await asyncio.sleep(0)
        done.append(f"notified {who}")

    def broken() -> None:
        raise ValueError("mail server down")

    def log(message: str, *, level: str) -> None:
        done.append(f"{level} {message}")

    def recorder(tasks: BackgroundTasks) -> BackgroundTasks:
        tasks.add_task(log, "from a dependency", level="debug")
        return tasks

    @app.post("/notes", status_code=201)
    def create(note: Note, tasks: BackgroundTasks, same: BackgroundTasks = Depends(recorder)) -> Note:
        assert same is tasks  # one set of tasks per request
        tasks.add_task(notify, note.text)
        if note.text == "fail":
            raise HTTPException(409, "refused")
        tasks.add_task(broken)
        tasks.add_task(log, note.text, level="info")
        done.append("handler")
        return note

    with TestClient(app) as client:
        got = client.post("/notes", json={"text": "hi"})
        assert (got.status_code, got.json()) == (201, {"text": "hi"})
        # A failing task is logged; the next one still runs.
        assert done == ["handler", "debug from a dependency", "notified hi", "info hi"]
        done.clear()
        # A request that fails runs none of its tasks (FastAPI's rule).
        assert client.post("/notes", json={"text": "fail"}).status_code == 409
        assert done == []


def test_lifespan_and_events_run_around_serving() -> None:
    order: List[str] = []

    @asynccontextmanager
    async def lifespan(app: App) -> AsyncIterator[Dict[str, Any]]:
        order.append("lifespan start")
        yield {"db": "connected"}
        order.append("lifespan stop")

    app = App(lifespan=lifespan)

    @app.on_event("startup")
    def started() -> None:
        order.append("startup")

    @app.on_event("shutdown")
    async def stopped() -> None:
        order.append("shutdown")

    @app.get("/state")
    def state() -> Dict[str, str]:
        return {"db": app.state.db}

    with TestClient(app) as client:
        assert order == ["startup", "lifespan start"]
        assert client.get("/state").json() == {"db": "connected"}
    assert order == ["startup", "lifespan start", "lifespan stop", "shutdown"]
    with pytest.raises(ValueError, match="'startup' and 'shutdown'"):
        app.on_event("start")


def test_def_handlers_run_in_the_thread_pool_unless_told_otherwise() -> None:
    def where() -> str:
        return threading.current_thread().name

    pooled = App()
    pooled.get("/pooled")(where)
    pooled.get("/inline", threadpool=False)(lambda: threading.current_thread().name)
    inline = App(threadpool=False)
    inline.get("/inline")(where)
    loop_thread = threading.current_thread().name  # TestClient runs its loop on the test's thread
    with TestClient(pooled) as client:
        assert client.get("/pooled").text.startswith("armature-def")
        assert client.get("/inline").text == loop_thread
    with TestClient(inline) as client:
        assert client.get("/inline").text == loop_thread


def test_a_blocking_def_handler_does_not_stall_async_ones() -> None:
    app = App()
    finished: List[str] = []

    @app.get("/blocking")
    def blocking() -> str:
        time.sleep(0.3)
        finished.append("blocking")
        return "slept"

    @app.get("/quick")
    async def quick() -> str:
        finished.append("quick")
        return "quick"

    async def main() -> None:
        async with AsyncClient(app) as client:
            slow = asyncio.ensure_future(client.get("/blocking"))
            await asyncio.sleep(0.05)  # the blocking handler has started on a worker
            assert (await client.get("/quick")).text == "quick"
            assert (await slow).text == "slept"

    asyncio.run(main())
    assert finished == ["quick", "blocking"]


def test_async_client_sends_through_the_pipeline() -> None:
    app = App()

    @app.post("/notes/{note_id}")
    async def update(note_id: int, note: Note) -> Dict[str, Any]:
        return {"id": note_id, "text": note.text}

    async def main() -> None:
        async with AsyncClient(app, headers={"x-request-id": "7b0c5f0e-3c1d-4b8e-9a57-5d3f1c2b4a69"}) as client:
            got = await client.post("/notes/3", json={"text": "hi"})
            assert (got.status_code, got.json()) == (200, {"id": 3, "text": "hi"})
            assert got.headers["x-request-id"] == "7b0c5f0e-3c1d-4b8e-9a57-5d3f1c2b4a69"
            refused = await client.post("/notes/x", json={"text": "hi"})
            assert refused.status_code == 400
        with pytest.raises(RuntimeError, match="closed"):
            await client.get("/notes/3")

    asyncio.run(main())


def test_contract_first_signatures_are_checked_against_the_contract_at_build() -> None:
    def app_with(handler: Any, operation_id: str = "getUser") -> App:
        app = App(contract=CONFORMANCE / "contract.yaml", config=CONFORMANCE / "config.yaml")
        app.operation(operation_id)(handler)
        return app

    def renamed(user_id: int) -> None: ...

    def wrong_location(id: str = Header()) -> None: ...

    def body_without_one(id: int, note: Note) -> None: ...

    def from_dependency(id: int, who: str = Depends(lambda tenant=Header(): tenant)) -> None: ...

    def fine(id: int, request: Request) -> None: ...

    with pytest.raises(ContractError, match=r"renamed of operation 'getUser': argument 'user_id' reads a path or query parameter 'user_id'.*path id"):
        app_with(renamed).build()
    with pytest.raises(ContractError, match="argument 'id' reads a header parameter 'id'"):
        app_with(wrong_location).build()
    with pytest.raises(ContractError, match="'note' is a model .* no JSON request body"):
        app_with(body_without_one).build()
    with pytest.raises(ContractError, match="argument 'tenant' reads a header parameter 'tenant'"):
        app_with(from_dependency).build()
    app_with(fine).build()


class UserOut(BaseModel):
    id: int
    name: str


class UserInDB(UserOut):
    hashed_password: str


def test_the_response_model_shapes_what_is_sent() -> None:
    app = App()

    @app.get("/users/{user_id}", response_model=UserOut)
    def read(user_id: int) -> Any:
        return UserInDB(id=user_id, name="ada", hashed_password="secret")

    @app.get("/users")
    def every() -> List[UserOut]:
        return [UserInDB(id=1, name="ada", hashed_password="secret"), UserOut(id=2, name="bob")]

    @app.get("/rows", response_model=UserOut)
    def row() -> Dict[str, Any]:
        return {"id": 3, "name": "cy", "password": "leak"}

    with TestClient(app) as client:
        assert client.get("/users/1").json() == {"id": 1, "name": "ada"}
        assert client.get("/users").json() == [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}]
        assert client.get("/rows").json() == {"id": 3, "name": "cy"}
    listed = app.openapi()["paths"]["/users"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed == {"type": "array", "items": {"$ref": "#/components/schemas/UserOut"}}
