"""The Python API surface: binding handlers, what handlers receive, what their results and
exceptions become, and errors at build time. Runs through TestClient (the whole pipeline,
in-process)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from pydantic import BaseModel

import armature
from armature import App, HTTPError, Request, Response
from armature.testing import TestClient

ROOT = Path(__file__).resolve().parents[3]
CONTRACT = ROOT / "conformance" / "contract.yaml"


class UserIn(BaseModel):
    name: str
    age: int


class Address(BaseModel):
    city: str


class UserOut(BaseModel):
    id: int
    name: str
    address: Optional[Address] = None


def code_first_app() -> App:
    app = App(title="people", version="2.0.0")

    @app.get("/people/{id}", path_params={"id": {"type": "integer", "minimum": 1}}, response=UserOut)
    def get_person(request: Request) -> UserOut:
        return UserOut(id=request.path_params["id"], name="Ada", address=Address(city="London"))

    @app.post("/people", body=UserIn, status=201)
    async def create_person(request: Request) -> Dict[str, Any]:
        user = UserIn.model_validate(request.json())
        await asyncio.sleep(0)
        return {"id": 7, **user.model_dump()}

    @app.get("/search", query={"q": {"type": "string"}, "limit": {"type": "integer"}})
    def search(request: Request) -> Dict[str, Any]:
        return {"query": request.query, "raw": request.query_string}

    @app.get("/text")
    def text() -> str:
        return "plain"

    @app.get("/bytes")
    def raw() -> bytes:
        return b"\x00\x01"

    @app.get("/nothing")
    def nothing() -> None:
        return None

    @app.get("/custom")
    def custom() -> Response:
        return Response(status=202, json=[1, 2], headers={"X-Extra": "yes"})

    @app.get("/refuse")
    def refuse() -> None:
        raise HTTPError(409, "already there")

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError("secret internals")

    @app.get("/unserializable")
    def unserializable() -> Any:
        return {"when": object()}

    @app.get("/wrong-model", response=UserOut)
    def wrong_model() -> Dict[str, Any]:
        return {"id": "not a number", "name": "x"}

    @app.get("/echo")
    def echo(request: Request) -> Dict[str, Any]:
        return {
            "method": request.method,
            "path": request.path,
            "operation_id": request.operation_id,
            "header": request.header("X-Thing"),
            "headers_has": "x-thing" in request.headers,
            "cookies": request.cookies,
            "identity_kind": request.identity["kind"],
            "subject": request.subject,
            "answered": request.answered,
        }

    @app.get("/trace")
    def trace(request: Request) -> Dict[str, Any]:
        trace = request.trace
        return {
            "trace_id": trace.trace_id,
            "span_id": trace.span_id,
            "parent_span_id": trace.parent_span_id,
            "flags": trace.flags,
            "sampled": trace.sampled,
            "tracestate": trace.tracestate,
            "congo": trace.tracestate_get("congo"),
            "calls": [trace.outgoing_headers(), trace.outgoing_headers()],
        }

    return app


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(code_first_app()) as client:
        yield client


def test_code_first_route_with_typed_path_param_and_model_response(client: TestClient) -> None:
    response = client.get("/people/3")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"id": 3, "name": "Ada", "address": {"city": "London"}}
    assert response.headers["x-request-id"]


def test_path_param_schema_is_enforced_by_core(client: TestClient) -> None:
    response = client.get("/people/0")
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["location"] == "path"


def test_pydantic_body_is_validated_by_core(client: TestClient) -> None:
    assert client.post("/people", json={"name": "Bo", "age": 4}).json() == {"id": 7, "name": "Bo", "age": 4}
    bad = client.post("/people", json={"name": "Bo", "age": "four"})
    assert bad.status_code == 400
    assert bad.json()["type"].endswith("/request-validation")


def test_query_params_are_typed(client: TestClient) -> None:
    body = client.get("/search", params={"q": "x y", "limit": 5}).json()
    assert body == {"query": {"q": "x y", "limit": 5}, "raw": "q=x+y&limit=5"}


def test_plain_results(client: TestClient) -> None:
    text = client.get("/text")
    assert (text.status_code, text.headers["content-type"], text.text) == (200, "text/plain; charset=utf-8", "plain")
    raw = client.get("/bytes")
    assert (raw.headers["content-type"], raw.content) == ("application/octet-stream", b"\x00\x01")
    nothing = client.get("/nothing")
    assert (nothing.status_code, nothing.content) == (204, b"")
    custom = client.get("/custom")
    assert (custom.status_code, custom.json(), custom.headers["x-extra"]) == (202, [1, 2], "yes")


def test_http_error_is_a_refused_problem_with_public_detail(client: TestClient) -> None:
    response = client.get("/refuse")
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "https://armature.dev/problems/refused"
    assert (problem["title"], problem["detail"], problem["instance"]) == ("Conflict", "already there", "/refuse")


def test_exception_is_a_500_without_internals(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    response = client.get("/boom")
    assert response.status_code == 500
    assert response.json()["type"].endswith("/handler-error")
    assert "secret internals" not in response.text
    assert any("secret internals" in str(record.exc_info) for record in caplog.records)


def test_unserializable_result_is_a_500(client: TestClient) -> None:
    assert client.get("/unserializable").status_code == 500


def test_response_breaking_the_model_is_caught_by_core(client: TestClient) -> None:
    response = client.get("/wrong-model")
    assert response.status_code == 500
    assert response.json()["type"].endswith("/response-validation")


def test_request_attributes(client: TestClient) -> None:
    response = client.get("/echo", headers={"X-Thing": "a"}, cookies={"session": "s1", "theme": "dark"})
    assert response.json() == {
        "method": "GET",
        "path": "/echo",
        "operation_id": "echo",
        "header": "a",
        "headers_has": True,
        "cookies": {"session": "s1", "theme": "dark"},
        "identity_kind": "anonymous",
        "subject": None,
        "answered": False,
    }


def test_trace_context_and_outgoing_headers(client: TestClient) -> None:
    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
    response = client.get("/trace", headers={"traceparent": incoming, "tracestate": "congo=1,rojo=2,congo=3"})
    body = response.json()
    assert body["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert body["parent_span_id"] == "00f067aa0ba902b7"
    assert response.headers["traceparent"] == f"00-{body['trace_id']}-{body['span_id']}-03"
    assert (body["flags"], body["sampled"]) == (3, True)
    assert (body["tracestate"], body["congo"]) == ("congo=1,rojo=2,congo=3", "1")
    first, second = body["calls"]
    # Each outgoing call is a child span of its own: same trace and flags, a new span id.
    span_ids = {call["traceparent"].split("-")[2] for call in body["calls"]}
    assert len(span_ids) == 2 and body["span_id"] not in span_ids
    for call in (first, second):
        assert call["traceparent"].startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        assert call["traceparent"].endswith("-03")
        assert call["tracestate"] == "congo=1,rojo=2,congo=3"
    without = client.get("/trace").json()
    assert without["parent_span_id"] is None and without["tracestate"] is None
    assert "tracestate" not in without["calls"][0]


def test_declared_operations_are_served_in_openapi(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["info"] == {"title": "people", "version": "2.0.0"}
    assert document["paths"]["/people/{id}"]["get"]["operationId"] == "get_person"
    assert set(document["components"]["schemas"]) >= {"UserOut", "Address", "UserIn"}


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.delete("/text").status_code == 405


def test_contract_first_binding_and_unimplemented_operation() -> None:
    app = App(contract=CONTRACT, config=ROOT / "conformance" / "config.yaml")

    @app.operation("json")
    def json_handler() -> Dict[str, str]:
        return {"message": "hi"}

    with TestClient(app) as client:
        assert client.get("/json").json() == {"message": "hi"}
        assert client.get("/plaintext").status_code == 501


def test_contract_as_a_dict() -> None:
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/ping": {"get": {"operationId": "ping", "responses": {"200": {"description": "ok"}}}}},
    }
    app = App(contract=document)
    app.operation("ping")(lambda: None)
    with TestClient(app) as client:
        # 204 is not documented: core's response validation answers 500.
        assert client.get("/ping").status_code == 500


def test_build_errors_name_the_problem() -> None:
    app = App(contract=CONTRACT)
    app.operation("noSuchOperation")(lambda: None)
    with pytest.raises(armature.ContractError, match="noSuchOperation"):
        app.build()
    with pytest.raises(armature.ContractError, match="no contract"):
        App().build()
    with pytest.raises(armature.ConfigError):
        App(contract=CONTRACT, config=ROOT / "does-not-exist.yaml").build()
    with pytest.raises(armature.ContractError, match="cannot read"):
        App(contract=ROOT / "missing.yaml").build()


def test_duplicate_handler_and_bad_signature_are_refused() -> None:
    app = App()
    app.get("/a", operation_id="a")(lambda: None)
    with pytest.raises(armature.ContractError, match="two handlers"):
        app.operation("a")(lambda: None)
    with pytest.raises(TypeError, match="cannot be bound"):
        app.get("/b")(lambda request, *extra: None)
    with pytest.raises(armature.ContractError, match="already declared"):
        twice = App()
        twice.get("/c", operation_id="c1")(lambda: None)
        twice.get("/c", operation_id="c2")(lambda: None)
        twice.build()


def test_answers_that_break_the_answer_rule_are_handler_errors() -> None:
    # docs/dispatch.md, "The answer rule": the same statuses and headers in every language.
    text = {"text/plain": {"schema": {"type": "string"}}}
    document = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {
            path: {"get": {"operationId": path[1:], "responses": {"200": {"description": "ok", "content": text}}}}
            for path in ("/interim", "/framed", "/fine")
        },
    }
    app = App(contract=document)
    app.operation("interim")(lambda: Response(status=101))
    app.operation("framed")(lambda: Response(text="hi", headers={"Content-Length": "99"}))
    app.operation("fine")(lambda: Response(text="hi", headers={"X-Fine": "yes"}))
    with TestClient(app) as client:
        for path in ("/interim", "/framed"):
            response = client.get(path)
            assert response.status_code == 500, path
            assert response.json()["type"].endswith("/handler-error"), path
        fine = client.get("/fine")
        assert (fine.status_code, fine.headers["x-fine"]) == (200, "yes")


def test_http_error_status_must_be_an_error() -> None:
    with pytest.raises(ValueError):
        HTTPError(200, "fine")


def test_response_takes_one_body() -> None:
    with pytest.raises(ValueError):
        Response(json={}, text="x")


def test_run_refuses_bad_worker_counts() -> None:
    with pytest.raises(ValueError):
        code_first_app().run(workers=0)


def test_pytest_plugin_fixtures_are_registered(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("armature")


def test_many_concurrent_async_requests_all_answered() -> None:
    app = App()
    seen: List[int] = []

    @app.get("/n/{n}", path_params={"n": {"type": "integer"}})
    async def number(request: Request) -> Dict[str, int]:
        await asyncio.sleep(0.001)
        seen.append(request.path_params["n"])
        return {"n": request.path_params["n"]}

    with TestClient(app) as client:
        for n in range(50):
            assert client.get(f"/n/{n}").json() == {"n": n}
    assert seen == list(range(50))


class _Collector:
    """A fake OTLP/HTTP collector: keeps every request body it receives."""

    def __init__(self) -> None:
        import http.server
        import threading

        bodies: List[bytes] = []
        self.bodies = bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                bodies.append(self.rfile.read(int(self.headers.get("content-length", "0"))))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, *needles: bytes) -> bool:
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            received = b"".join(self.bodies)
            if all(needle in received for needle in needles):
                return True
            time.sleep(0.05)
        return False


def test_client_spans_are_exported_for_recorded_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    collector = _Collector()
    monkeypatch.setenv("ARMATURE_TELEMETRY__TRACING__ENABLED", "true")
    monkeypatch.setenv("ARMATURE_TELEMETRY__TRACING__ENDPOINT", collector.endpoint)
    # The SDK's batch processor exports every 5 s by default; the test should not wait that long.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    app = App(title="calls", version="1")

    class Unreachable(Exception):
        pass

    @app.get("/calls")
    def calls(request: Request) -> Dict[str, Any]:
        with request.trace.client_span("GET", method="GET", url="http://inventory/stock?key=secret") as ok:
            headers = ok.headers
            ok.status = 200
        try:
            with request.trace.client_span("POST") as failed:
                raise Unreachable("connection refused")
        except Unreachable:
            pass
        ended = request.trace.client_span("PUT")
        ended.end(404)
        ended.end(500)  # a second end does nothing
        with pytest.raises(RuntimeError, match="already ended"):
            ended.headers
        with pytest.raises(ValueError):
            request.trace.client_span("")
        return {
            "headers": headers,
            "call_id": headers["traceparent"].split("-")[2],
            "statuses": [ok.status, failed.status],
            "recording": request.trace.client_span("HEAD").recording,
        }

    with TestClient(app) as client:
        sampled = client.get("/calls", headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"})
        body = sampled.json()
        assert body["recording"] is True
        call_id = body["call_id"]
        assert body["headers"]["traceparent"] == f"00-4bf92f3577b34da6a3ce929d0e0e4736-{call_id}-01"
        assert body["statuses"] == [200, None]
        server_id = sampled.headers["traceparent"].split("-")[2]
        # The OTLP body is protobuf: the ids travel as raw bytes, attribute values as text.
        assert collector.wait_for(
            bytes.fromhex(call_id),
            bytes.fromhex(server_id),
            b"http://inventory/stock",
            b".Unreachable",  # error.type: the exception's qualified name
        ), "the client spans did not reach the collector"
        assert b"key=secret" not in b"".join(collector.bodies)

        unsampled = client.get("/calls", headers={"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"})
        assert unsampled.json()["recording"] is False
    collector.server.shutdown()
