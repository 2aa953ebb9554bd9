"""Plots ci/soak CSVs (bench/soak/soak.py): RSS in MB and open descriptors over time, one line
per CSV, into one PNG. Usage:

    .venv/bin/python bench/soak/plot.py target/soak/rust-*.csv [more.csv ...] -o out.png [--title T]

Each CSV needs the columns elapsed_s, rss_kb and fds (both scenarios write them); a line is
labelled with its file name unless ``--label`` gives one per CSV.
"""

from __future__ import annotations

import argparse
import csv
import pathlib

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def read(path: pathlib.Path) -> tuple[list[float], list[float], list[int]]:
    elapsed, rss_mb, fds = [], [], []
    with open(path, newline="") as source:
        for row in csv.DictReader(source):
            elapsed.append(float(row["elapsed_s"]))
            rss_mb.append(int(row["rss_kb"]) / 1024)
            fds.append(int(row["fds"]))
    return elapsed, rss_mb, fds


def main() -> None:
    parser = argparse.ArgumentParser(description="RSS and open descriptors over time from ci/soak CSVs")
    parser.add_argument("csv", nargs="+", type=pathlib.Path)
    parser.add_argument("-o", "--output", type=pathlib.Path, required=True)
    parser.add_argument("--title", default="ci/soak")
    parser.add_argument("--label", action="append", help="one per CSV, in order")
    args = parser.parse_args()
    labels = args.label or [path.stem for path in args.csv]
    if len(labels) != len(args.csv):
        parser.error("give one --label per CSV, or none")

    figure, (rss_axis, fd_axis) = plt.subplots(2, 1, sharex=True, figsize=(8, 5.5))
    series = [(read(path), label) for path, label in zip(args.csv, labels)]
    longest = max((elapsed[-1] for (elapsed, _, _), _ in series if elapsed), default=0.0)
    minutes = longest >= 180  # the x axis in minutes for runs of 3 minutes and more
    for (elapsed, rss_mb, fds), label in series:
        xs = [t / 60 for t in elapsed] if minutes else elapsed
        rss_axis.plot(xs, rss_mb, marker=".", label=label)
        fd_axis.plot(xs, fds, marker=".", label=label)
    rss_axis.set_ylabel("RSS (MB)")
    rss_axis.set_ylim(bottom=0)
    fd_axis.set_ylabel("open descriptors")
    fd_axis.set_ylim(bottom=0)
    fd_axis.set_xlabel("minutes" if minutes else "seconds")
    rss_axis.set_title(args.title)
    for axis in (rss_axis, fd_axis):
        axis.grid(True, alpha=0.3)
    rss_axis.legend(loc="best", fontsize="small")
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=100)
    print(f"plot: {args.output}")


if __name__ == "__main__":
    main()
