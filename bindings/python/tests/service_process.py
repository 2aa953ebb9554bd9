"""Starting a service as a separate process for the tests that need a real socket, and stopping
it the way the project requires (SIGTERM or SIGINT, then exit status 0)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Mapping, Optional, Sequence


def free_port() -> int:
    """A port the kernel says is free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start(
    command: Sequence[str], port: int, env: Mapping[str, str], cwd: Optional[Path] = None
) -> "subprocess.Popen[bytes]":
    """Starts `command` and waits, up to 60 s, until it answers /ready on `port`."""
    service = subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if service.poll() is not None:
            raise RuntimeError(f"the service exited with status {service.returncode}:\n{service.communicate()[1].decode()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
                if response.status == 200:
                    return service
        except OSError:
            time.sleep(0.05)
    service.kill()
    raise RuntimeError("the service did not become ready in 60 s")


def stop(service: "subprocess.Popen[bytes]", sig: int) -> None:
    """Sends `sig` and requires exit status 0 within 30 s."""
    service.send_signal(sig)
    try:
        _, errors = service.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        service.kill()
        raise
    assert service.returncode == 0, f"exit status {service.returncode} after signal {sig}:\n{errors.decode()[-4000:]}"
