"""Every shared conformance case (conformance/cases) against the Python handlers of
conformance_app.py: in-process through TestClient, and over real HTTP against the same app
served by `python conformance_app.py`. The cases run in file order against one app each
(telemetry.yaml's metrics cases count the requests of the cases before them)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest
from conformance_cases import Case, Send, Sent, http_send, load_cases, run_case

from armature.testing import TestClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
CASES = load_cases()


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
    port = _free_port()
    env = {**os.environ, "ARMATURE_SERVER__PORT": str(port)}
    service = subprocess.Popen(
        [sys.executable, str(HERE / "conformance_app.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_ready(port, service)
        yield http_send(f"http://127.0.0.1:{port}")
    finally:
        service.send_signal(signal.SIGTERM)
        try:
            _, errors = service.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            raise
    assert service.returncode == 0, f"exit status {service.returncode} after SIGTERM:\n{errors.decode()[-4000:]}"


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_in_process(case: Case, in_process: Send) -> None:
    run_case(case, in_process)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_case_over_http(case: Case, over_http: Send) -> None:
    run_case(case, over_http)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(port: int, service: "subprocess.Popen[bytes]") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise RuntimeError(f"the conformance service exited with status {service.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the conformance service did not become ready in 60 s")
