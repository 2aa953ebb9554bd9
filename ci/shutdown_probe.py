"""Keep-alive load through a graceful shutdown: proves no request sent before the drain delay
ended goes unanswered (ci/test-shutdown runs it against each language's service).

Usage: shutdown_probe.py PORT PID DRAIN_DELAY_MS [CLIENTS] [SECONDS_BEFORE_SIGTERM]

CLIENTS threads each keep one HTTP/1.1 keep-alive connection busy with GET /plaintext, opening a
new one when the server answers `connection: close` or closes. After SECONDS_BEFORE_SIGTERM the
probe sends SIGTERM to PID, and the clients go on until their connections are refused. Then it
prints what happened and exits 1 if any request sent before SIGTERM + DRAIN_DELAY_MS got no
answer, if no request was answered during the drain delay, or if none was answered at all.

Standard library only, so it runs before any virtualenv exists.
"""

import os
import signal
import socket
import sys
import threading
import time

REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: probe\r\nUser-Agent: shutdown-probe\r\n\r\n"


class Tally:
    """What every client saw, under one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered_before_signal = 0
        self.answered_in_drain = 0
        self.answered_after_drain = 0
        self.close_in_drain = 0
        self.lost = []  # (sent at, why) for requests that got no answer
        self.refused_after = 0


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, bool]:
    """Reads one response; returns (status, server asked to close). Raises on EOF or reset."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF before a response")
        buffer += chunk
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("EOF inside a response body")
        body += chunk
    buffer[:] = body[length:]
    return status, headers.get("connection", "").lower() == "close"


def client(port: int, signalled: list, drain_ends: list, stop: threading.Event, tally: Tally) -> None:
    sock = None
    buffer = bytearray()
    while not stop.is_set():
        if sock is None:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=10)
                buffer.clear()
            except OSError:
                with tally.lock:
                    if signalled[0] is not None:
                        tally.refused_after += 1
                if signalled[0] is not None and time.monotonic() > drain_ends[0]:
                    return  # the listener is gone: this client is done
                time.sleep(0.01)
                continue
        sent_at = time.monotonic()
        try:
            sock.sendall(REQUEST)
            status, close = read_response(sock, buffer)
        except OSError as error:
            with tally.lock:
                tally.lost.append((sent_at, f"{type(error).__name__}: {error}"))
            sock.close()
            sock = None
            continue
        with tally.lock:
            if signalled[0] is None or sent_at < signalled[0]:
                tally.answered_before_signal += 1
            elif sent_at < drain_ends[0]:
                tally.answered_in_drain += 1
                tally.close_in_drain += close
            else:
                tally.answered_after_drain += 1
        if status != 200:
            with tally.lock:
                tally.lost.append((sent_at, f"status {status}"))
        if close:
            sock.close()
            sock = None


def main() -> int:
    port, pid, drain_ms = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    clients = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    before = float(sys.argv[5]) if len(sys.argv) > 5 else 1.5
    signalled = [None]
    drain_ends = [float("inf")]
    stop = threading.Event()
    tally = Tally()
    threads = [threading.Thread(target=client, args=(port, signalled, drain_ends, stop, tally), daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    time.sleep(before)
    now = time.monotonic()
    drain_ends[0] = now + drain_ms / 1000
    signalled[0] = now
    os.kill(pid, signal.SIGTERM)
    # Long enough for the drain delay, the grace period of what is in flight, and the exit.
    deadline = drain_ends[0] + 10
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stop.set()
    lost_early = [(at - signalled[0], why) for at, why in tally.lost if at < drain_ends[0]]
    lost_late = [(at - signalled[0], why) for at, why in tally.lost if at >= drain_ends[0]]
    print(
        f"shutdown probe: {clients} keep-alive clients, SIGTERM after {before:.1f} s, drain delay {drain_ms} ms\n"
        f"  answered before SIGTERM: {tally.answered_before_signal}\n"
        f"  answered during the drain delay: {tally.answered_in_drain} "
        f"({tally.close_in_drain} with connection: close)\n"
        f"  answered after the drain delay: {tally.answered_after_drain}\n"
        f"  unanswered, sent before the drain delay ended: {len(lost_early)}\n"
        f"  unanswered, sent after it (allowed): {len(lost_late)}\n"
        f"  connections refused after SIGTERM (allowed): {tally.refused_after}"
    )
    for at, why in lost_early[:10]:
        print(f"  LOST: sent {at * 1000:+.1f} ms after SIGTERM: {why}")
    if alive := [thread for thread in threads if thread.is_alive()]:
        print(f"  {len(alive)} clients still connected 10 s after the drain delay")
        return 1
    if lost_early or tally.answered_before_signal == 0 or tally.answered_in_drain == 0:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
