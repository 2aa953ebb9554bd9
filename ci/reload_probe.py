"""A policy change under keep-alive load, by SIGHUP: proves it takes effect without a request
failing or a connection dropping, and that a reload that fails changes nothing (ci/test-reload
runs it against each language's service).

Usage: reload_probe.py PORT PID DATA_FILE TOKEN [CLIENTS]

The service's policy data is DATA_FILE (a copy of conformance/policy/data.yaml). CLIENTS threads
each keep one HTTP/1.1 connection busy with GET /me as alice (TOKEN), which the conformance
policy allows until alice is listed as suspended. The probe then:
  1. after 1 s, suspends alice in DATA_FILE and sends SIGHUP, and waits for /metrics to count
     the reload; requests answered before the signal must be 200, those sent after the reload
     403 (one sent just before the signal may be decided after it: either answer is right);
  2. after 1 s more, writes DATA_FILE that is not YAML and sends SIGHUP: the failed reload is
     counted, and every answer stays 403;
  3. after 0.5 s more, stops. Any other status, a connection closed or reset, or a request
     left unanswered fails the probe (exit 1).

Standard library only, so it runs before any virtualenv exists.
"""

import os
import signal
import socket
import sys
import threading
import time

from shutdown_probe import read_response

SUSPENDED = "accounts:\n  suspended: [mallory, alice]\n"
NOT_YAML = "accounts: [unclosed\n"


class Tally:
    """What every client saw, under one lock: (sent at, status) of every request, and failures."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (sent at, answered at, status)
        self.answers: list[tuple[float, float, int]] = []
        self.failures: list[tuple[float, str]] = []


def client(port: int, token: str, stop: threading.Event, tally: Tally) -> None:
    request = f"GET /me HTTP/1.1\r\nHost: probe\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    buffer = bytearray()
    while not stop.is_set():
        sent_at = time.monotonic()
        try:
            sock.sendall(request)
            status, close = read_response(sock, buffer)
        except OSError as error:
            with tally.lock:
                tally.failures.append((sent_at, f"{type(error).__name__}: {error}"))
            return
        with tally.lock:
            tally.answers.append((sent_at, time.monotonic(), status))
        if close:
            with tally.lock:
                tally.failures.append((sent_at, "the server closed the connection"))
            return
    sock.close()


def reloads(port: int, result: str) -> int:
    """armature_reloads_total{result=...} from /metrics (0 before the first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
        text = b""
        while chunk := sock.recv(65536):
            text += chunk
    prefix = f'armature_reloads_total{{result="{result}"}} '
    for line in text.decode().splitlines():
        if line.startswith(prefix):
            return int(float(line[len(prefix):]))
    return 0


def write_atomically(path: str, text: str) -> None:
    """Replaces the file in one rename, as a deployment should: a reload never reads half of it."""
    with open(path + ".new", "w") as new:
        new.write(text)
    os.replace(path + ".new", path)


def signal_and_wait(port: int, pid: int, result: str) -> tuple[float, float]:
    """SIGHUP, then waits (10 s at most) until /metrics counts one more reload with `result`."""
    before = reloads(port, result)
    signalled = time.monotonic()
    os.kill(pid, signal.SIGHUP)
    while reloads(port, result) == before:
        if time.monotonic() - signalled > 10:
            raise SystemExit(f"reload probe: no {result} reload counted 10 s after SIGHUP")
        time.sleep(0.01)
    return signalled, time.monotonic()


def main() -> int:
    port, pid, data_file, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 8
    stop = threading.Event()
    tally = Tally()
    threads = [threading.Thread(target=client, args=(port, token, stop, tally), daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    write_atomically(data_file, SUSPENDED)
    signalled, reloaded = signal_and_wait(port, pid, "succeeded")
    time.sleep(1.0)
    write_atomically(data_file, NOT_YAML)
    failed_at, _ = signal_and_wait(port, pid, "failed")
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(10)

    with tally.lock:
        answers, failures = list(tally.answers), list(tally.failures)
    # "Before" is answered before the signal: a request sent just before it may still be waiting
    # in the server when the reload lands (a 403 then is right), so its send time proves nothing.
    before = [status for _, answered, status in answers if answered < signalled]
    during = [status for at, answered, status in answers if signalled <= answered and at < reloaded]
    after = [status for at, _, status in answers if reloaded <= at < failed_at]
    after_failed = [status for at, _, status in answers if at >= failed_at]
    wrong = [f"{status} before the reload" for status in before if status != 200]
    wrong += [f"{status} while reloading" for status in during if status not in (200, 403)]
    wrong += [f"{status} after the reload" for status in after if status != 403]
    wrong += [f"{status} after the failed reload" for status in after_failed if status != 403]
    print(
        f"reload probe: {clients} keep-alive clients, GET /me as alice\n"
        f"  before SIGHUP: {len(before)} answered, all 200: {all(s == 200 for s in before)}\n"
        f"  while reloading ({(reloaded - signalled) * 1000:.0f} ms, SIGHUP to the reload counted): "
        f"{len(during)} answered ({during.count(200)} x 200, {during.count(403)} x 403)\n"
        f"  after the reload: {len(after)} answered, all 403: {all(s == 403 for s in after)}\n"
        f"  after a reload of a broken file: {len(after_failed)} answered, all 403: "
        f"{all(s == 403 for s in after_failed)}\n"
        f"  failed requests or dropped connections: {len(failures)}"
    )
    for at, why in failures[:10]:
        print(f"  FAILED: sent {(at - signalled) * 1000:+.1f} ms after the first SIGHUP: {why}")
    for what in wrong[:10]:
        print(f"  WRONG: {what}")
    if alive := [thread for thread in threads if thread.is_alive()]:
        print(f"  {len(alive)} clients still waiting for an answer")
        return 1
    if failures or wrong or not before or not after or not after_failed:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
