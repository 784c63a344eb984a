# SPDX-License-Identifier: Apache-2.0
"""Throughput of the Verilator backend, golden-model check included.

Usage: python sim/bench_verilator.py [--beats N] [--chunk N] [--lanes L] [--width W]
                                     [--repeat R]

For 8 lanes of 16 bits (the defaults) under random valid/ready patterns, prints beats per second
(wall clock, best of ``--repeat``) for:

``model``
    the compiled model alone (``Model.run`` on one stimulus of ``--beats`` beats);
``one run``
    the model plus the scoreboard, :func:`relu_hw.simulate.check` (which runs the golden model),
    on that one stimulus: what ``relu-hw simulate --backend verilator`` does;
``chunks``
    the same work split into independent runs of ``--chunk`` beats, each from reset, in one
    thread (arrays that fit in the CPU caches make the NumPy side faster);
``2 threads``
    those runs spread over two threads (the model releases the GIL, and so does most of
    NumPy), so simulation and checking overlap.

Also printed: CPU seconds per million beats of the single-thread chunked mode, a figure that
other load on the machine disturbs less. Stimulus generation is not timed; the model is compiled
(or taken from the cache) before timing starts.
"""

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from relu_hw.simulate import check, make_stimulus
from relu_hw.spec import Spec
from relu_hw.verilator import build_model


def best_of(repeat, fn):
    wall = cpu = float("inf")
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, time.process_time() - c)
    return wall, cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beats", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--probs", type=float, nargs="+", default=[1.0, 0.9, 0.7, 0.5],
                        help="valid and ready probabilities to try (the same for both)")
    args = parser.parse_args(argv)

    spec = Spec(kind="relu", width=args.width, frac=args.width // 2, lanes=args.lanes)
    start = time.perf_counter()
    model = build_model(spec)
    print(f"Verilator backend, {spec.lanes} lanes x {spec.width} bits: model ready in "
          f"{time.perf_counter() - start:.1f} s; {args.beats:,} beats per figure; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'valid/ready':>11} {'cycles/beat':>11} {'model':>10} {'one run':>10} "
          f"{'chunks':>10} {'2 threads':>10} {'CPU s/M beats':>14}   (M beats/s)")

    def checked(stim):
        found, count = check(spec, stim, model.run(stim))
        if count:
            sys.exit(f"FAIL: {count} mismatching fields, first {found[0]}")

    best = 0.0
    with ThreadPoolExecutor(2) as pool:
        for p in args.probs:
            stim = make_stimulus(spec, args.beats, seed=1, valid_prob=p, ready_prob=p)
            chunks = [make_stimulus(spec, args.chunk, seed=2 + k, valid_prob=p, ready_prob=p)
                      for k in range(max(1, args.beats // args.chunk))]
            chunk_beats = args.chunk * len(chunks)
            cycles = model.run(stim).cycles
            model_only, _ = best_of(args.repeat, lambda: model.run(stim))
            one_run, _ = best_of(args.repeat, lambda: checked(stim))
            serial, serial_cpu = best_of(args.repeat, lambda: [checked(s) for s in chunks])
            threaded, _ = best_of(args.repeat, lambda: list(pool.map(checked, chunks)))
            best = max(best, chunk_beats / threaded)
            print(f"{p:>5.1f}/{p:<5.1f} {cycles / args.beats:>11.2f} "
                  f"{args.beats / model_only / 1e6:>10.2f} {args.beats / one_run / 1e6:>10.2f} "
                  f"{chunk_beats / serial / 1e6:>10.2f} {chunk_beats / threaded / 1e6:>10.2f} "
                  f"{serial_cpu / chunk_beats * 1e6:>14.3f}")
    print(f"every beat checked against the golden model: PASS; best {best / 1e6:.2f} M beats/s "
          f"(2 threads, golden check included)")


if __name__ == "__main__":
    main()
