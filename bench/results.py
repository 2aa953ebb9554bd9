"""Renders ci/bench's measurements as one Markdown report, printed and written to a file.

Input: a TSV of `service, endpoint, requests/s, p99, errors` rows (one per wrk run) and the
alloc-count table. The ratios are computed within the run: bare hyper (`hyper`) is 1, and each
binding's service is also given as a multiple of its language's peer (PEERS). For the C receive modes the
extra time per request is 1/rps(mode) - 1/rps(reference): with the server's one core saturated,
that is CPU time the mode adds to each request.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys


# The framework each binding's service is measured against, in the same run.
PEERS = {"python": "fastapi", "python-inline": "fastapi", "python-request": "fastapi", "node": "fastify", "node-off": "fastify", "go": "go-nethttp", "go-off": "go-nethttp"}


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

    modes = [m for m in ("c-callback", "c-pull", "c-poll") if any(s == m for s, *_ in rows)]
    if modes:
        out.append("")
        out.append("The crossing into C, stages off: extra µs per request on the saturated server core.")
        out.append("")
        out.append("| mode | endpoint | vs rust-off (µs) | vs c-callback (µs) |")
        out.append("|---|---|---:|---:|")
        for mode in modes:
            for service, endpoint, value, *_ in rows:
                if service != mode or not value:
                    continue
                cells = []
                for base in ("rust-off", "c-callback"):
                    reference = rps.get((base, endpoint), 0.0)
                    cells.append(f"{1e6 / value - 1e6 / reference:.1f}" if reference and base != mode else "")
                out.append(f"| {mode} | {endpoint} | {cells[0]} | {cells[1]} |")

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
