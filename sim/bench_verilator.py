# SPDX-License-Identifier: Apache-2.0
"""Throughput and memory of ``relu-hw simulate --backend verilator`` as a user runs it, against
a bare C++ loop over the same Verilog.

Usage: python sim/bench_verilator.py [--small N] [--large N] [--repeat R] [--lanes L]
                                     [--width W] [--prob P]

The configuration is a Leaky ReLU with slope 1/8 on ``--lanes`` lanes of ``--width`` bits;
valid and ready are random with probability ``--prob`` (defaults: 8 lanes of 16 bits, 0.95).

``command``
    ``relu-hw simulate`` run as a separate process, as a user runs it, at ``--small`` and at
    ``--large`` beats (best of ``--repeat``): wall seconds and peak resident memory. The rate
    is the slope between the two runs, ``(large - small) / (t_large - t_small)``, which leaves
    out start-up and the model's build (it is built, or taken from the cache, beforehand).
``bare loop``
    ``sim/bench_bare.cpp``: the same Verilog compiled with the same flags, driven by a C++
    loop with random valid and ready at the same probability and the same two evaluations a
    cycle, with no checking, no stimulus beyond a buffer of random words, and no Python. It is
    the most a checked run could do.
``ratio``
    The command's rate over the bare loop's.

Prints a table and, with ``--json``, JSON.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import relu_hw.sim
from relu_hw.generate import to_verilog
from relu_hw.sim.verilator import (_CXXFLAGS, _VERILATOR_FLAGS, _defines, _includes, _runtime,
                                   _tool_env, build_model, verilator_root)
from relu_hw.spec import Spec
from relu_hw.tools import run, work_root

HERE = Path(__file__).resolve().parent


def command(spec, beats, prob):
    """``relu-hw simulate`` for ``spec`` as a user would type it."""
    return [sys.executable, "-m", "relu_hw", "simulate", "--backend", "verilator",
            "--kind", spec.kind, "--slope", spec.slope, "--lanes", str(spec.lanes),
            "--width", str(spec.width), "--frac", str(spec.frac), "--beats", str(beats),
            "--valid-prob", str(prob), "--ready-prob", str(prob), "--json"]


def run_measured(argv):
    """Run ``argv``; ``(wall seconds, peak RSS in MB, stdout text)``. The peak is the
    child's own, from the kernel's accounting when it is reaped."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed:\n{err.read().decode()}")
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def bare_loop(spec):
    """Build ``sim/bench_bare.cpp`` over the Verilog of ``spec``; the executable's path."""
    root = verilator_root()
    env = _tool_env(root)
    folder = work_root() / "bench" / f"bare-{spec.name}-{spec.lanes}x{spec.width}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dut.v").write_text(to_verilog(spec))
    run([str(root / "bin" / "verilator"), *_VERILATOR_FLAGS, "--top-module", spec.name,
         "-Mdir", "obj", "dut.v"], cwd=folder, env=env, what="Verilator")
    sources = sorted(p.name for p in (folder / "obj").glob("Vmodel*.cpp"))
    (folder / "obj" / "unity.cpp").write_text("".join(f'#include "{s}"\n' for s in sources))
    runtime = _runtime(root, False, env)
    harness = Path(relu_hw.sim.__file__).parent
    run(["c++", *_CXXFLAGS, *_defines(False, False), *_includes(root), "-Iobj",
         f"-I{harness}", "obj/unity.cpp", str(HERE / "bench_bare.cpp"), *map(str, runtime),
         "-pthread", "-o", "bench_bare"],
        cwd=folder, env=env, what="Compiling the bare loop")
    return folder / "bench_bare"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=21_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--prob", type=float, default=0.95)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    spec = Spec(kind="leaky_relu", slope="1/8", width=args.width, frac=args.width // 2,
                lanes=args.lanes)
    build_model(spec)      # built (or found in the cache) before anything is timed
    runs = {}
    for beats in (args.small, args.large):
        best = None
        for _ in range(args.repeat):
            wall, rss, out = run_measured(command(spec, beats, args.prob))
            report = json.loads(out)
            if not report["passed"]:
                sys.exit(f"FAIL at {beats} beats: {report['mismatches'][:3]}")
            if best is None or wall < best[0]:
                best = (wall, rss, report["cycles"])
        runs[beats] = best
    (t_small, _, _), (t_large, _, cycles) = runs[args.small], runs[args.large]
    rate = (args.large - args.small) / (t_large - t_small)

    exe = bare_loop(spec)
    bare = 0.0
    for _ in range(args.repeat):
        _, _, out = run_measured([str(exe), str(cycles), str(args.prob)])
        c, got, seconds, _ = out.split()
        bare = max(bare, int(got) / float(seconds))

    result = {
        "configuration": f"leaky_relu 1/8, {spec.lanes} lanes x {spec.width} bits, valid and "
                         f"ready {args.prob}",
        "load_average": round(os.getloadavg()[0], 2), "cpus": os.cpu_count(),
        "command": {str(b): {"seconds": round(t, 2), "peak_rss_mb": round(m, 1)}
                    for b, (t, m, _) in runs.items()},
        "command_rate_beats_per_s": round(rate),
        "bare_loop_beats_per_s": round(bare),
        "ratio": round(rate / bare, 3),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{result['configuration']}; {os.cpu_count()} CPUs, load average "
          f"{result['load_average']}; best of {args.repeat}")
    for beats, (t, m, _) in runs.items():
        print(f"  relu-hw simulate --beats {beats:>11,}: {t:7.2f} s, peak RSS {m:7.1f} MB")
    print(f"  end-to-end rate (slope):  {rate / 1e6:6.2f} M beats/s")
    print(f"  bare C++ loop:            {bare / 1e6:6.2f} M beats/s")
    print(f"  ratio:                    {rate / bare:6.3f}")


if __name__ == "__main__":
    main()
