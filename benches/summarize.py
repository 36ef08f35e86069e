#!/usr/bin/env python3
"""Prints the table of docs/performance.md from criterion's output of `cargo bench --bench teardown`.

Usage: python3 benches/summarize.py [--async] [CRITERION_DIR]
(default: $CARGO_TARGET_DIR/criterion, else target/criterion).

--async: the tables of "Async baseline (issue 12)" instead, from
`cargo bench -p rungroup-async-baseline` (rungroup's future actors and its thread-hosted async
pattern against the tokio group).

Median: criterion's `new/estimates.json` (median.point_estimate). p90: the 90th percentile
(nearest rank) of the raw per-sample times in `new/sample.json` (times[i] / iters[i]); the bench
runs one iteration per sample, so these are per-run times.
"""

import json
import math
import os
import sys

IMPLS = ["rungroup", "naive", "floor"]
SIZES = [1, 4, 16, 64, 256, 1024]


def load(root, scenario, impl, n):
    base = os.path.join(root, scenario, impl, str(n), "new")
    try:
        with open(os.path.join(base, "estimates.json")) as f:
            median = json.load(f)["median"]["point_estimate"]
        with open(os.path.join(base, "sample.json")) as f:
            sample = json.load(f)
    except FileNotFoundError:
        return None
    per_iter = sorted(t / i for t, i in zip(sample["times"], sample["iters"]))
    p90 = per_iter[max(0, math.ceil(0.9 * len(per_iter)) - 1)]
    return median, p90, len(per_iter)


def fmt(ns):
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.0f} µs"


def fmt_fine(ns):
    """As fmt, with two decimals under 10 µs (the tokio group's small N are under a microsecond)."""
    if ns >= 1e4:
        return fmt(ns)
    return f"{ns / 1e3:.2f} µs"


ASYNC_IMPLS = [
    "tokio-joinset",
    "rungroup-future-run",
    "rungroup-future-tokio",
    "future-floor",
    "rungroup-future-run-thread-trigger",
    "rungroup-token-async",
    "rungroup-token-tokio",
]
# Measured only on request (RUNGROUP_BENCH_THREAD_TRIGGER=1, RUNGROUP_BENCH_TOKIO_PER_ACTOR=1), or
# not in every recorded run (future-floor came later).
OPTIONAL_IMPLS = {"rungroup-future-run-thread-trigger", "rungroup-token-tokio", "future-floor"}


def main_async(root):
    for scenario in ["async-teardown", "async-lifecycle"]:
        impls = [
            impl
            for impl in ASYNC_IMPLS
            if impl not in OPTIONAL_IMPLS or load(root, scenario, impl, SIZES[0]) is not None
        ]
        print(f"\n**{scenario}** (median / p90 (runs))\n")
        ratios = ["future-run/tokio", "future-tokio/tokio", "token-async/tokio"]
        if "future-floor" in impls:
            ratios += ["floor/tokio", "future-run/floor"]
        header = ["N"] + impls + ratios + ["tokio per actor", "future-run per actor"]
        print("| " + " | ".join(header) + " |")
        print("|" + "--:|" * len(header))
        for n in SIZES:
            cells = {impl: load(root, scenario, impl, n) for impl in impls}
            if any(cell is None for cell in cells.values()):
                continue
            row = [str(n)]
            for impl in impls:
                median, p90, count = cells[impl]
                row.append(f"{fmt_fine(median)} / {fmt_fine(p90)} ({count})")
            tokio = cells["tokio-joinset"][0]
            for impl in ["rungroup-future-run", "rungroup-future-tokio", "rungroup-token-async"]:
                ratio = cells[impl][0] / tokio
                row.append(f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.2f}×")
            if "future-floor" in impls:
                floor = cells["future-floor"][0]
                row.append(f"{floor / tokio:.2f}×")
                row.append(f"{cells['rungroup-future-run'][0] / floor:.2f}×")
            row.append(f"{tokio / n / 1e3:.2f} µs")
            row.append(f"{cells['rungroup-future-run'][0] / n / 1e3:.2f} µs")
            print("| " + " | ".join(row) + " |")


def main():
    args = sys.argv[1:]
    asynchronous = "--async" in args
    args = [arg for arg in args if arg != "--async"]
    default = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion")
    root = args[0] if args else default
    if asynchronous:
        main_async(root)
        return
    for scenario in ["teardown", "lifecycle"]:
        print(f"\n**{scenario}** (median / p90; samples = runs)\n")
        print("| N | rungroup | naive | floor | rungroup/naive | rungroup/floor | rungroup per actor |")
        print("|--:|--:|--:|--:|--:|--:|--:|")
        for n in SIZES:
            cells = {impl: load(root, scenario, impl, n) for impl in IMPLS}
            if any(cell is None for cell in cells.values()):
                continue
            row = [str(n)]
            for impl in IMPLS:
                median, p90, count = cells[impl]
                row.append(f"{fmt(median)} / {fmt(p90)} ({count})")
            ours = cells["rungroup"][0]
            row.append(f"{ours / cells['naive'][0]:.2f}×")
            row.append(f"{ours / cells['floor'][0]:.2f}×")
            row.append(f"{ours / n / 1e3:.1f} µs")
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
