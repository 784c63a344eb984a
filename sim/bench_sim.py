#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark: ``relu-hw simulate`` on the Amaranth backend as a user runs it (beats/s), and the
golden model (elements/s).

Rates, not timed tests: run it on a quiet machine and read the figures as orders of magnitude.

    python sim/bench_sim.py [--small N] [--large N] [--elements N] [--repeat R] [--json]

The command's rate is the slope between a run of ``--small`` and one of ``--large`` beats,
best of ``--repeat``, so that start-up does not count; peak memory is the child's own.
"""

import argparse
import json
import sys
import time

import numpy as np
from bench_verilator import run_measured

from relu_hw.golden import golden
from relu_hw.spec import Spec

CONFIGS = {
    "relu 8x16": (Spec(kind="relu", width=16, frac=8, lanes=8), []),
    "leaky 0.01 8x16": (Spec(kind="leaky_relu", slope="0.01", width=16, frac=8, lanes=8,
                             rounding="half_even"),
                        ["--kind", "leaky_relu", "--slope", "0.01", "--rounding", "half_even"]),
}


def best_of(repeats, fn):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=11000)
    parser.add_argument("--elements", type=int, default=4_000_000,
                        help="elements per golden-model run (default 4000000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()

    results = []
    for label, (spec, options) in CONFIGS.items():
        for p in (1.0, 0.7):
            runs = {}
            for beats in (args.small, args.large):
                argv = [sys.executable, "-m", "relu_hw", "simulate", "--lanes", "8",
                        "--width", "16", "--frac", "8", *options, "--beats", str(beats),
                        "--valid-prob", str(p), "--ready-prob", str(p), "--json"]
                runs[beats] = min(run_measured(argv)[:2] for _ in range(args.repeat))
            (t_small, _), (t_large, rss) = runs[args.small], runs[args.large]
            results.append({"what": "relu-hw simulate (amaranth)", "config": label,
                            "valid_prob": p, "ready_prob": p,
                            "rate": (args.large - args.small) / (t_large - t_small),
                            "unit": "beats/s", "peak_rss_mb": round(rss, 1)})
        rng = np.random.default_rng(0)
        fmt = spec.input_format
        x = rng.integers(fmt.min_code, fmt.max_code, (args.elements // spec.lanes, spec.lanes),
                         endpoint=True)
        t = best_of(args.repeat, lambda: golden(spec, x))
        results.append({"what": "golden model", "config": label, "rate": x.size / t,
                        "unit": "elements/s"})

    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        pattern = f" valid {r['valid_prob']}, ready {r['ready_prob']}" if "valid_prob" in r \
            else ""
        memory = f", peak RSS {r['peak_rss_mb']} MB" if "peak_rss_mb" in r else ""
        print(f"{r['what']:28} {r['config']:16}{pattern:26} {r['rate']:>14,.0f} "
              f"{r['unit']}{memory}")


if __name__ == "__main__":
    main()
