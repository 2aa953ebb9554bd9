"""app.run() as a process: it serves, stops gracefully on SIGTERM and SIGINT with exit status 0,
and with workers=N forks N processes that share the port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
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
