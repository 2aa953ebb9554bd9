"""app.run() as a process: it serves, stops gracefully on SIGTERM and SIGINT with exit status 0,
with workers=N forks N processes that share the port, and reloads its files on app.reload() and
SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Set

import pytest
import service_process

SERVICE = textwrap.dedent(
    """
    import os, sys
    import armature

    app = armature.App()

    @app.get("/pid")
    def pid() -> dict:
        return {"pid": os.getpid()}

    app.run(host="127.0.0.1", port=int(sys.argv[1]), workers=int(sys.argv[2]))
    """
)


def _get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())


def _start(tmp_path: Path, port: int, workers: int) -> "subprocess.Popen[bytes]":
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARMATURE_")}
    return service_process.start([sys.executable, str(script), str(port), str(workers)], port, env)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_serves_until_a_signal_then_exits_0(tmp_path: Path, sig: int) -> None:
    port = service_process.free_port()
    service = _start(tmp_path, port, workers=1)
    assert _get(port, "/pid") == {"pid": service.pid}
    service_process.stop(service, sig)


def test_workers_share_the_port(tmp_path: Path) -> None:
    port = service_process.free_port()
    service = _start(tmp_path, port, workers=2)
    pids: Set[int] = set()
    for _ in range(200):  # a new connection each time; the kernel spreads them over the workers
        pids.add(_get(port, "/pid")["pid"])
        if len(pids) == 2:
            break
    assert len(pids) == 2 and service.pid not in pids, pids
    service_process.stop(service, signal.SIGTERM)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_workers_need_a_fixed_port() -> None:
    import armature

    app = armature.App()
    app.get("/x")(lambda: None)
    with pytest.raises(ValueError, match="fixed port"):
        app.run(port=0, workers=2)


RELOADING_SERVICE = textwrap.dedent(
    """
    import os, sys
    import armature

    app = armature.App()

    @app.get("/pid")
    def pid() -> dict:
        return {"pid": os.getpid()}

    @app.post("/reload")
    def reload() -> dict:  # a plain def runs in the thread pool: reloading blocks no request
        try:
            app.reload()
        except armature.ConfigError as error:
            return {"error": str(error)}
        return {"reloaded": True}

    app.run(host="127.0.0.1", port=int(sys.argv[1]))
    """
)


def _status(port: int, path: str, method: str = "GET") -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_reload_and_sighup_swap_the_policy_and_a_broken_one_changes_nothing(tmp_path: Path) -> None:
    policy = tmp_path / "policy.rego"

    def write_policy(is_open: str) -> None:
        policy.write_text(
            "package t\nimport rego.v1\n"
            f"is_open := {is_open}\n"
            "default allow := false\n"
            "allow if is_open\n"
            'allow if input.operation.path_template == "/reload"\n'
        )

    write_policy("true")
    script = tmp_path / "service.py"
    script.write_text(RELOADING_SERVICE)
    port = service_process.free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARMATURE_")}
    env["ARMATURE_AUTHORIZATION__POLICIES"] = json.dumps([str(policy)])
    env["ARMATURE_AUTHORIZATION__DECISION"] = "data.t.allow"
    service = service_process.start([sys.executable, str(script), str(port)], port, env)
    assert _status(port, "/pid") == 200

    write_policy("false")
    assert _post(port, "/reload") == {"reloaded": True}
    assert _status(port, "/pid") == 403

    policy.write_text("package t\nallow := \n")
    answer = _post(port, "/reload")
    assert "policy.rego" in answer["error"], answer
    assert _status(port, "/pid") == 403, "a failed reload changes nothing"

    write_policy("true")
    os.kill(service.pid, signal.SIGHUP)
    for _ in range(100):
        if _status(port, "/pid") == 200:
            break
        time.sleep(0.05)
    assert _status(port, "/pid") == 200, "SIGHUP reloaded the policy"
    service_process.stop(service, signal.SIGTERM)


def _post(port: int, path: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
