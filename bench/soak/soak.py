"""The soak driver behind ci/soak: long mixed load against a running service while its memory
and open descriptors are sampled, or a slow-header attack. Usage (from the repository root, with
the project's virtualenv, which has PyYAML for the case loader):

    .venv/bin/python bench/soak/soak.py --base-url http://127.0.0.1:PORT --pid PID \
        [--scenario load|headers] [--minutes 10] [--csv FILE] [--lang rust]

``load`` (the default) replays the request part of every conformance case (conformance/cases,
through bindings/python/tests/conformance_cases.py, so JWT and API-key credentials come from
credentials/tokens.json) round-robin from ``--threads`` keep-alive connections, valid and
invalid requests alike; it counts statuses and transport errors and never checks a response
(the conformance runner does). It samples the process's VmRSS, its open descriptors and the
requests done every ``--interval`` seconds into the CSV, then checks, after a warm-up of 2
minutes (or 20% of a shorter run): the largest RSS after the warm-up is at most 1.10 x the RSS at
its end, and the descriptors at the end at most 5 more than then.

``headers`` opens ``--connections`` connections that each send a request line and header lines
up to just under ``server.max_header_bytes`` (ARMATURE_SERVER__MAX_HEADER_BYTES, else
conformance/config.yaml's, else core's default 32768; ``--head-bytes`` overrides), in fewer lines
than half ``server.max_header_count`` (read the same way, default 100) and never the blank line that ends the head, holds them ``--hold``
seconds sampling RSS every second, and passes when RSS grew by less than 20 MB.

Exit status: 0 PASS, 1 FAIL, 2 usage or setup error. Only the standard library does the load.
"""

from __future__ import annotations

import argparse
import collections
import csv
import http.client
import os
import pathlib
import re
import select
import socket
import sys
import threading
import time
import urllib.parse
from typing import Optional

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "bindings" / "python" / "tests"))
import conformance_cases  # noqa: E402  (the case loader's Python port, needs PyYAML)
import yaml  # noqa: E402

WARMUP_S = 120.0  # or WARMUP_SHARE of a shorter run
WARMUP_SHARE = 0.2
RSS_TOLERANCE = 1.10  # largest RSS after warm-up / RSS at its end
FD_TOLERANCE = 5  # descriptors at the end - descriptors at the end of warm-up
HEADER_GROWTH_LIMIT_MB = 20.0
DEFAULT_MAX_HEADER_BYTES = 32768
DEFAULT_MAX_HEADER_COUNT = 100
PRE_SAMPLES = 3  # headers: samples 1 s apart before the attack, the last one is "before"
SLOW_MS = 100  # a /slow?ms= case above this is slow by design: skipped


# --- the process under test -------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def alive(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}/status")


def parse_base_url(base_url: str) -> tuple[str, int, str, str]:
    """``(host, port, path prefix, Host header)`` of ``http://host[:port][/prefix]``."""
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"soak: invalid base URL {base_url!r}: expected http://host[:port][/prefix]")
    return parts.hostname, parts.port or 80, parts.path.rstrip("/"), parts.netloc


# --- scenario "load" --------------------------------------------------------------------------


class Request:
    """One case's request, ready to send: method, target, header lines, body."""

    def __init__(self, case: conformance_cases.Case) -> None:
        self.name = case.name
        self.method = case.method
        self.target = case.path.split("#", 1)[0]  # a URI drops its #fragment, as the runner's does
        grouped: dict[str, list[str]] = {}  # one name's lines together, as the runner sends them
        for name, value in case.headers:
            grouped.setdefault(name, []).append(value)
        self.headers = [(name, value) for name, values in grouped.items() for value in values]
        self.body = case.body
        # A body the server refuses (413) before reading it: the server may close the connection
        # with the rest unread, so such a request goes on a connection of its own.
        self.own_connection = case.expect["status"] == 413


def skipped(case: conformance_cases.Case) -> Optional[str]:
    """Why a case is left out of the load, or None: only those slow by design."""
    if case.expect["status"] == 504:
        return "waits for the request timeout (504)"
    match = re.search(r"[?&]ms=([0-9]+)", case.path)
    if case.path.startswith("/slow") and match and int(match.group(1)) > SLOW_MS:
        return f"sleeps {match.group(1)} ms"
    return None


class Connection(http.client.HTTPConnection):
    def _encode_request(self, request: str) -> bytes:
        return request.encode("utf-8")  # the cases hold UTF-8 in request lines


class Worker(threading.Thread):
    """Sends the requests round-robin, from ``start`` on, over one keep-alive connection (opened
    again when the server closes it or a request fails) until ``stop`` is set."""

    def __init__(self, index: int, requests: list[Request], start_at: int, url: tuple[str, int, str, str],
                 stop: threading.Event, timeout: float) -> None:
        super().__init__(name=f"soak-{index}", daemon=True)
        self.requests, self.position, self.url, self.stop, self.timeout = requests, start_at, url, stop, timeout
        self.done = 0  # requests answered
        self.errors = 0  # requests without an answer (transport errors, timeouts)
        self.connects = 0
        self.statuses: collections.Counter[int] = collections.Counter()
        self.error_kinds: collections.Counter[str] = collections.Counter()
        # Keep-alive connections found closed by the server, by the request they answered last.
        self.stale: collections.Counter[str] = collections.Counter()

    def connection(self) -> Connection:
        host, port, _, _ = self.url
        connection = Connection(host, port, timeout=self.timeout)
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connects += 1
        return connection

    def send(self, connection: Connection, request: Request) -> bool:
        """Sends one request and reads its whole answer; True if the connection can be reused."""
        _, _, prefix, host_header = self.url
        connection.putrequest(request.method, prefix + request.target, skip_host=True, skip_accept_encoding=True)
        names = set()
        for name, value in request.headers:
            connection.putheader(name, value.encode("utf-8"))
            names.add(name)
        if "host" not in names:
            connection.putheader("host", host_header)
        if request.body and not names & {"content-length", "transfer-encoding"}:
            connection.putheader("content-length", str(len(request.body)))
        connection.endheaders()
        if request.body:
            try:
                connection.send(request.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered (413) before the body was read: read that answer
        response = connection.getresponse()
        response.read()
        self.statuses[response.status] += 1
        self.done += 1
        return not response.will_close

    def run(self) -> None:
        shared: Optional[Connection] = None
        served = 0  # answers on `shared` so far
        previous = ""  # the request `shared` answered last
        while not self.stop.is_set():
            request = self.requests[self.position]
            self.position = (self.position + 1) % len(self.requests)
            own = request.own_connection
            connection = None
            reusable = False
            for attempt in (1, 2):
                try:
                    if own:
                        connection = self.connection()
                    else:
                        if shared is None:
                            shared, served = self.connection(), 0
                        connection = shared
                    reusable = self.send(connection, request)
                    break
                except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected) as error:
                    if own or served == 0 or attempt == 2:
                        self.fail(request, error)
                        break
                    # The server had closed the idle keep-alive connection without a
                    # `connection: close` (after answering `previous`): what any client does is
                    # send the request again on a new connection.
                    self.stale[previous] += 1
                    if shared is not None:
                        shared.close()
                    shared = None
                except (OSError, http.client.HTTPException) as error:
                    self.fail(request, error)
                    break
            if not own:
                served += 1
                previous = request.name
            if own or not reusable:
                if connection is not None:
                    connection.close()
                if not own:
                    shared = None
        if shared is not None:
            shared.close()

    def fail(self, request: Request, error: Exception) -> None:
        self.errors += 1
        self.error_kinds[f"{type(error).__name__} on {request.name!r}"] += 1


def warmup_seconds(duration: float) -> float:
    return min(WARMUP_S, WARMUP_SHARE * duration)


def run_load(args: argparse.Namespace) -> int:
    url = parse_base_url(args.base_url)
    cases = conformance_cases.load_cases()
    requests, left_out = [], []
    for case in cases:
        reason = skipped(case)
        if reason:
            left_out.append(f"{case.name} ({reason})")
        else:
            requests.append(Request(case))
    own = sum(r.own_connection for r in requests)
    print(f"soak: {len(requests)} of {len(cases)} conformance cases, {own} of them on a connection of their own "
          f"(bodies refused with 413); left out: {'; '.join(left_out) or 'none'}")
    duration = args.minutes * 60.0
    warmup = warmup_seconds(duration)
    print(f"soak: {args.threads} connections for {args.minutes:g} min against {args.base_url} (pid {args.pid}), "
          f"a sample every {args.interval:g} s, warm-up {warmup:g} s; CSV {args.csv}")

    stop = threading.Event()
    step = max(1, len(requests) // args.threads)
    workers = [Worker(i, requests, (i * step) % len(requests), url, stop, args.timeout) for i in range(args.threads)]
    samples: list[tuple[float, int, int, int, int]] = []
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with open(args.csv, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["elapsed_s", "rss_kb", "fds", "requests", "errors"])

        def sample(elapsed: float) -> None:
            row = (round(elapsed, 1), rss_kb(args.pid), open_fds(args.pid),
                   sum(w.done for w in workers), sum(w.errors for w in workers))
            samples.append(row)
            writer.writerow(row)
            out.flush()
            rate = (row[3] - samples[-2][3]) / (row[0] - samples[-2][0]) if len(samples) > 1 else 0.0
            print(f"  {row[0]:7.1f} s  rss {row[1] / 1024:8.1f} MB  fds {row[2]:4d}  requests {row[3]:9d}"
                  f"  errors {row[4]:5d}  ({rate:,.0f}/s)", flush=True)

        started = time.monotonic()
        sample(0.0)
        for worker in workers:
            worker.start()
        tick = 1
        while True:
            due = started + min(tick * args.interval, duration)
            while (now := time.monotonic()) < due:
                time.sleep(min(1.0, due - now))
                if not alive(args.pid):
                    stop.set()
                    print(f"soak: FAIL: the service (pid {args.pid}) exited during the run")
                    return 1
            sample(time.monotonic() - started)
            if due >= started + duration:
                break
            tick += 1
        stop.set()
        for worker in workers:
            worker.join(args.timeout + 5)

    elapsed = samples[-1][0]
    total, errors = samples[-1][3], samples[-1][4]
    statuses: collections.Counter[int] = collections.Counter()
    kinds: collections.Counter[str] = collections.Counter()
    stale: collections.Counter[str] = collections.Counter()
    for worker in workers:
        statuses.update(worker.statuses)
        kinds.update(worker.error_kinds)
        stale.update(worker.stale)
    print(f"soak: {total} requests in {elapsed:.0f} s ({total / elapsed:,.0f}/s), {errors} errors, "
          f"{sum(w.connects for w in workers)} connections opened")
    print("soak: statuses " + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items())))
    for kind, count in kinds.most_common(5):
        print(f"soak: error {kind}: {count}")
    if stale:
        print(f"soak: {sum(stale.values())} requests sent again on a new connection: the server had closed the "
              f"keep-alive connection without `connection: close`, after answering (most often):")
        for name, count in stale.most_common(8):
            print(f"soak:   {count:6d} x {name!r}")
    return verdict_load(samples, warmup)


def verdict_load(samples: list[tuple[float, int, int, int, int]], warmup: float) -> int:
    """PASS/FAIL over the samples (elapsed_s, rss_kb, fds, ...), printed; the exit status."""
    at_warmup = next(s for s in samples if s[0] >= warmup - 0.5)
    after = [s for s in samples if s[0] > at_warmup[0]]
    if not after:
        print("soak: FAIL: no sample after the warm-up (run longer)")
        return 1
    rss_max = max(s[1] for s in after)
    end = samples[-1]
    rss_limit = RSS_TOLERANCE * at_warmup[1]
    fd_limit = at_warmup[2] + FD_TOLERANCE
    # The RSS trend after the warm-up (least squares), to tell a slow leak from noise.
    xs, ys = [s[0] for s in after], [s[1] for s in after]
    slope = 0.0
    if len(after) > 1:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        var = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 60 if var else 0.0
    rss_ok, fds_ok = rss_max <= rss_limit, end[2] <= fd_limit
    print(f"soak: RSS at end of warm-up ({at_warmup[0]:.0f} s) {at_warmup[1] / 1024:.1f} MB, max after "
          f"{rss_max / 1024:.1f} MB (limit {rss_limit / 1024:.1f} MB), at the end {end[1] / 1024:.1f} MB, "
          f"trend after warm-up {slope:+.0f} KB/min: {'ok' if rss_ok else 'FAIL'}")
    print(f"soak: fds at end of warm-up {at_warmup[2]}, at the end {end[2]} (limit {fd_limit}): "
          f"{'ok' if fds_ok else 'FAIL'}")
    passed = rss_ok and fds_ok
    print(f"soak: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


# --- scenario "headers" -----------------------------------------------------------------------


def server_setting(key: str, default: int) -> tuple[int, str]:
    """``server.<key>`` as the conformance services get it, and where it came from: the
    ``ARMATURE_SERVER__<KEY>`` override, else conformance/config.yaml, else core's default."""
    variable = f"ARMATURE_SERVER__{key.upper()}"
    if os.environ.get(variable):
        return int(os.environ[variable]), variable
    config = REPO_ROOT / "conformance" / "config.yaml"
    server = (yaml.safe_load(config.read_text()) or {}).get("server") or {}
    if key in server:
        return int(server[key]), "conformance/config.yaml"
    return default, "the default"


def attack_head(head_bytes: int, max_header_count: int, host_header: str, prefix: str) -> bytes:
    """A request line and header lines, ``head_bytes`` long in all, without the blank line that
    would end the head. Fewer lines than ``server.max_header_count`` (half of it, at most 50),
    so that the size, not the count, is what the server has to hold."""
    start = f"GET {prefix}/plaintext HTTP/1.1\r\nhost: {host_header}\r\n".encode()
    lines = max(1, min(50, max_header_count // 2))
    room = head_bytes - len(start)
    per_line = room // lines
    out = [start]
    for i in range(lines):
        name = f"x-soak-{i:02d}: "
        size = per_line if i < lines - 1 else room - per_line * (lines - 1)
        value_len = size - len(name) - 2
        if value_len < 1:
            raise SystemExit(f"soak: --head-bytes {head_bytes} is too small for {lines} header lines")
        out.append(name.encode() + b"a" * value_len + b"\r\n")
    head = b"".join(out)
    assert len(head) == head_bytes, (len(head), head_bytes)
    return head


def run_headers(args: argparse.Namespace) -> int:
    host, port, prefix, host_header = parse_base_url(args.base_url)
    max_header_bytes, bytes_from = server_setting("max_header_bytes", DEFAULT_MAX_HEADER_BYTES)
    max_header_count, _ = server_setting("max_header_count", DEFAULT_MAX_HEADER_COUNT)
    head_bytes = args.head_bytes or max_header_bytes - 64  # just under the limit
    head = attack_head(head_bytes, max_header_count, host_header, prefix)
    print(f"soak headers: {args.connections} connections, each an unfinished head of {len(head)} bytes "
          f"(server.max_header_bytes {max_header_bytes}, from {bytes_from}), held {args.hold:g} s, against {args.base_url} "
          f"(pid {args.pid}); CSV {args.csv}")

    args.csv.parent.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[float, int, int, int, int]] = []
    open_socks: dict[socket.socket, int] = {}
    closed: list[tuple[int, float, str]] = []  # (connection, seconds after its head was sent, how)
    sent_at: dict[int, float] = {}
    refused = 0
    with open(args.csv, "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["elapsed_s", "rss_kb", "fds", "open", "closed_by_server"])
        started = time.monotonic()

        def sample() -> None:
            row = (round(time.monotonic() - started, 1), rss_kb(args.pid), open_fds(args.pid), len(open_socks),
                   len(closed))
            rows.append(row)
            writer.writerow(row)
            out.flush()
            print(f"  {row[0]:6.1f} s  rss {row[1] / 1024:8.1f} MB  fds {row[2]:4d}  open {row[3]:3d}"
                  f"  closed by the server {row[4]:3d}", flush=True)

        def poll_closed() -> None:
            """Moves the connections the server has closed (or answered, which it does before
            closing: a 408 or a 431) from ``open_socks`` to ``closed``."""
            if not open_socks:
                return
            readable, _, _ = select.select(list(open_socks), [], [], 0)
            for sock in readable:
                try:
                    data = sock.recv(4096)
                    how = "closed" if not data else data.split(b"\r\n", 1)[0].decode("latin-1")
                except OSError as error:
                    how = type(error).__name__
                index = open_socks.pop(sock)
                closed.append((index, time.monotonic() - sent_at[index], how))
                sock.close()

        for second in range(PRE_SAMPLES):  # "before": the last of these
            if second:
                time.sleep(1.0)
            sample()
        opening = time.monotonic()
        for index in range(args.connections):
            try:
                sock = socket.create_connection((host, port), timeout=10)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(head)
            except OSError as error:
                refused += 1
                print(f"soak headers: connection {index}: {type(error).__name__}: {error}")
                continue
            open_socks[sock] = index
            sent_at[index] = time.monotonic()
        sent = time.monotonic()
        print(f"soak headers: {len(open_socks)} heads sent in {sent - opening:.1f} s ({refused} failed); holding")
        while time.monotonic() - sent < args.hold:
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started) % 1.0))
            poll_closed()
            sample()
        still_open = len(open_socks)
        for sock in list(open_socks):
            sock.close()
        open_socks.clear()
        time.sleep(2)
        sample()  # after the client let go

    before = rows[PRE_SAMPLES - 1][1]
    hold_rows = rows[PRE_SAMPLES:-1]
    peak = max(r[1] for r in hold_rows) if hold_rows else before
    growth_mb = (peak - before) / 1024
    after_mb = (rows[-1][1] - before) / 1024
    how: collections.Counter[str] = collections.Counter(c[2] for c in closed)
    ages = sorted(c[1] for c in closed)
    print(f"soak headers: RSS before {before / 1024:.1f} MB, max during the hold {peak / 1024:.1f} MB: growth "
          f"{growth_mb:.1f} MB ({growth_mb * 1024 / max(1, args.connections - refused):.0f} KB per connection), "
          f"{after_mb:+.1f} MB 2 s after the client closed them")
    if closed:
        print(f"soak headers: {len(closed)} of {args.connections - refused} closed by the server during the hold, "
              f"{ages[0]:.1f}-{ages[-1]:.1f} s after their head was sent ("
              + ", ".join(f"{k}: {v}" for k, v in how.most_common()) + f"); {still_open} still open at the end")
    else:
        print(f"soak headers: none closed by the server during the {args.hold:g} s hold")
    passed = growth_mb < HEADER_GROWTH_LIMIT_MB
    print(f"soak headers: {'PASS' if passed else 'FAIL'} (growth {growth_mb:.1f} MB, limit "
          f"< {HEADER_GROWTH_LIMIT_MB:g} MB)")
    return 0 if passed else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--pid", type=int, required=True, help="the service process, sampled in /proc")
    parser.add_argument("--scenario", choices=["load", "headers"], default="load")
    parser.add_argument("--lang", default="service", help="names the default CSV")
    parser.add_argument("--csv", type=pathlib.Path)
    parser.add_argument("--minutes", type=float, default=10.0, help="load: how long")
    parser.add_argument("--threads", type=int, default=8, help="load: keep-alive connections")
    parser.add_argument("--interval", type=float, default=10.0, help="load: seconds between samples")
    parser.add_argument("--timeout", type=float, default=10.0, help="load: per socket operation, seconds")
    parser.add_argument("--connections", type=int, default=200, help="headers: how many")
    parser.add_argument("--hold", type=float, default=20.0, help="headers: seconds")
    parser.add_argument("--head-bytes", type=int, default=0, help="headers: bytes per head (default: the limit - 64)")
    args = parser.parse_args()
    if not alive(args.pid):
        print(f"soak: no process {args.pid}", file=sys.stderr)
        return 2
    if args.csv is None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        suffix = "-headers" if args.scenario == "headers" else ""
        args.csv = REPO_ROOT / "target" / "soak" / f"{args.lang}{suffix}-{stamp}.csv"
    return run_headers(args) if args.scenario == "headers" else run_load(args)


if __name__ == "__main__":
    sys.exit(main())
