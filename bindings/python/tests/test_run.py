"""app.run() as a process: it serves, stops gracefully on SIGTERM and SIGINT with exit status 0,
and with workers=N forks N processes that share the port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path
from typing import Any, Set

import pytest

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(port: int, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())


def _start(tmp_path: Path, port: int, workers: int) -> "subprocess.Popen[bytes]":
    script = tmp_path / "service.py"
    script.write_text(SERVICE)
    service = subprocess.Popen(
        [sys.executable, str(script), str(port), str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={key: value for key, value in os.environ.items() if not key.startswith("ARMATURE_")},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert service.poll() is None, service.communicate()[1].decode()
        try:
            _get(port, "/pid")
            return service
        except OSError:
            time.sleep(0.05)
    service.kill()
    raise AssertionError("the service did not answer within 30 s")


def _stop(service: "subprocess.Popen[bytes]", sig: int) -> None:
    service.send_signal(sig)
    _, errors = service.communicate(timeout=30)
    assert service.returncode == 0, errors.decode()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_run_serves_until_a_signal_then_exits_0(tmp_path: Path, sig: int) -> None:
    port = _free_port()
    service = _start(tmp_path, port, workers=1)
    assert _get(port, "/pid") == {"pid": service.pid}
    _stop(service, sig)


def test_workers_share_the_port(tmp_path: Path) -> None:
    port = _free_port()
    service = _start(tmp_path, port, workers=2)
    pids: Set[int] = set()
    for _ in range(200):  # a new connection each time; the kernel spreads them over the workers
        pids.add(_get(port, "/pid")["pid"])
        if len(pids) == 2:
            break
    assert len(pids) == 2 and service.pid not in pids, pids
    _stop(service, signal.SIGTERM)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_workers_need_a_fixed_port() -> None:
    import armature

    app = armature.App()
    app.get("/x")(lambda: None)
    with pytest.raises(ValueError, match="fixed port"):
        app.run(port=0, workers=2)
