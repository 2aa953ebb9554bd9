"""Renders ci/bench's measurements as one Markdown report, printed and written to a file.

Input: a TSV of `service, endpoint, requests/s, p99, errors` rows (one per wrk run) and the
alloc-count table. The ratios are computed within the run: bare hyper (`hyper`) is 1, and each
binding's service is also given as a multiple of its language's peer (PEERS). For each host's service with
the stages off (CROSSINGS) the extra time per request is 1/rps(host) - 1/rps(rust-off): with the server's
one core saturated, that is CPU time the crossing and the host's handlers add to each request.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys


# The services whose crossing table row is their extra time over rust-off (stages off in each).
CROSSINGS = ["c-callback", "c-pull", "c-poll", "python-off", "node-off", "go-off"]
ENDPOINTS = ["GET /plaintext", "GET /json", "GET /users/{id}", "POST /users"]

# The framework each binding's service is measured against, in the same run.
PEERS = {"python": "fastapi", "python-inline": "fastapi", "python-request": "fastapi", "python-off": "fastapi", "node": "fastify", "node-off": "fastify", "go": "go-nethttp", "go-off": "go-nethttp"}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return 0.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("allocations")
    parser.add_argument("--mode", required=True)
    parser.add_argument("--warmup", required=True)
    parser.add_argument("--seconds", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    rows = []
    with open(args.results, encoding="utf-8") as results:
        for line in results:
            if line.strip():
                service, endpoint, rps, p99, errors = (line.rstrip("\n").split("\t") + [""] * 5)[:5]
                rows.append((service, endpoint, number(rps), p99, errors.strip()))
    rps = {(service, endpoint): value for service, endpoint, value, _, _ in rows}

    def ratio(service: str, endpoint: str, base: str) -> str:
        own, reference = rps.get((service, endpoint), 0.0), rps.get((base, endpoint), 0.0)
        return f"{own / reference:.2f}" if own and reference else ""

    out = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out.append("# ci/bench results")
    out.append("")
    out.append(
        f"{now}, commit {args.commit}, {args.mode} run ({args.warmup} s warm-up, {args.seconds} s measured "
        f"per endpoint). Machine: {os.cpu_count()} cores, {cpu_model()}, {platform.system()} {platform.release()}. "
        "Server and all its threads on CPU 0 (one runtime worker), `wrk -t1 -c64` on CPU 1. "
        "Written by `ci/bench`; compare ratios within one run, since the machine's speed moves between runs."
    )
    out.append("")
    out.append("| service | endpoint | requests/s | p99 | vs bare hyper | vs its peer | errors |")
    out.append("|---|---|---:|---:|---:|---:|---|")
    for service, endpoint, value, p99, errors in rows:
        peer = PEERS.get(service)
        versus_peer = f"{ratio(service, endpoint, peer)} ({peer})" if peer and ratio(service, endpoint, peer) else ""
        out.append(
            f"| {service} | {endpoint} | {value:,.0f} | {p99} | {ratio(service, endpoint, 'hyper')} "
            f"| {versus_peer} | {errors} |"
        )

    # The crossing into each host language: its service with the stages of rust-off off, against
    # rust-off in the same run; what differs is the crossing and the host's handlers.
    hosts = [h for h in CROSSINGS if any(s == h for s, *_ in rows)]
    if hosts and any(s == "rust-off" for s, *_ in rows):
        out.append("")
        out.append(
            "The crossing into each host language, stages off (policy, decision log, access log, metrics): "
            "extra µs of CPU per request over `rust-off` on the saturated server core, "
            "1/rps(host) - 1/rps(rust-off)."
        )
        out.append("")
        out.append("| host | " + " | ".join(ENDPOINTS) + " |")
        out.append("|---|" + "---:|" * len(ENDPOINTS))
        for host in hosts:
            cells = []
            for endpoint in ENDPOINTS:
                own, reference = rps.get((host, endpoint), 0.0), rps.get(("rust-off", endpoint), 0.0)
                cells.append(f"{1e6 / own - 1e6 / reference:.1f}" if own and reference else "")
            out.append(f"| {host} | " + " | ".join(cells) + " |")

    with open(args.allocations, encoding="utf-8") as allocations:
        table = allocations.read().strip()
    if table:
        out.append("")
        out.append(
            "Heap allocations per request, whole conformance pipeline on (`alloc-count`: the Rust "
            "conformance service in-process, one worker, one keep-alive connection):"
        )
        out.append("")
        out.append(table)

    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(args.out, "w", encoding="utf-8") as report:
        report.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
