"""Every shared conformance case (conformance/cases) against the Python handlers of
conformance_app.py: in-process through TestClient, and over real HTTP against the same app
served by `python conformance_app.py`. The cases run in file order against one app each
(telemetry.yaml's metrics cases count the requests of the cases before them)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
import service_process
from conformance_cases import Case, Send, Sent, http_send, load_cases, run_case

from armature.testing import TestClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
# The HTTPS cases (tls.yaml) need ALPN h2 and the test client certificate: the shared runner
# runs them against this app in ci/conformance python; TestClient has no TLS.
CASES = [case for case in load_cases() if not case.tls]


@pytest.fixture(scope="module")
def in_process() -> Iterator[Send]:
    from conformance_app import app

    with TestClient(app) as client:

        def send(method: str, target: str, headers: List[Tuple[str, str]], body: bytes) -> Sent:
            response = client.request(method, target, headers=headers, content=body)
            return Sent(response.status_code, response.headers.raw(), response.content)

        yield send


@pytest.fixture(scope="module")
def over_http() -> Iterator[Send]:
    port = service_process.free_port()
    env = {**os.environ, "ARMATURE_SERVER__PORT": str(port)}
    service = service_process.start([sys.executable, str(HERE / "conformance_app.py")], port, env, cwd=ROOT)
    try:
        yield http_send(f"http://127.0.0.1:{port}")
    finally:
        service_process.stop(service, signal.SIGTERM)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_in_process(case: Case, in_process: Send) -> None:
    run_case(case, in_process)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_over_http(case: Case, over_http: Send) -> None:
    run_case(case, over_http)

