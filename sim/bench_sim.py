#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Benchmark: the Amaranth cycle-accurate simulator (beats/s) and the golden model (elements/s).

Rates, not timed tests: run it on a quiet machine and read the figures as orders of magnitude.

    python sim/bench_sim.py [--beats N] [--elements N] [--json]
"""

import argparse
import json
import time

import numpy as np

from relu_hw.golden import golden
from relu_hw.sim import make_stimulus, run_amaranth
from relu_hw.spec import Spec

CONFIGS = {
    "relu 8x16": Spec(kind="relu", width=16, frac=8, lanes=8),
    "leaky 0.01 8x16": Spec(kind="leaky_relu", slope="0.01", width=16, frac=8, lanes=8,
                            rounding="half_even"),
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
    parser.add_argument("--beats", type=int, default=5000,
                        help="beats per simulator run (default 5000)")
    parser.add_argument("--elements", type=int, default=4_000_000,
                        help="elements per golden-model run (default 4000000)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args()

    results = []
    for label, spec in CONFIGS.items():
        for vp, rp in ((1.0, 1.0), (0.7, 0.7)):
            stim = make_stimulus(spec, beats=args.beats, seed=1, valid_prob=vp, ready_prob=rp)
            t = best_of(args.repeats, lambda: run_amaranth(spec, stim))
            results.append({"what": "amaranth simulator", "config": label, "valid_prob": vp,
                            "ready_prob": rp, "rate": args.beats / t, "unit": "beats/s"})
        rng = np.random.default_rng(0)
        fmt = spec.input_format
        x = rng.integers(fmt.min_code, fmt.max_code, (args.elements // spec.lanes, spec.lanes),
                         endpoint=True)
        t = best_of(args.repeats, lambda: golden(spec, x))
        results.append({"what": "golden model", "config": label, "rate": x.size / t,
                        "unit": "elements/s"})

    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        pattern = f" valid {r['valid_prob']}, ready {r['ready_prob']}" if "valid_prob" in r \
            else ""
        print(f"{r['what']:20} {r['config']:16}{pattern:26} {r['rate']:>14,.0f} {r['unit']}")


if __name__ == "__main__":
    main()
