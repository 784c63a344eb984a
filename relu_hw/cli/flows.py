# SPDX-License-Identifier: Apache-2.0
"""The FPGA-flow subcommands of ``relu-hw``: ``synth``, ``sweep``, ``baseline`` and
``board``."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..files import to_json, write_files
from ..flows import DEFAULT_TARGET, TARGETS, flow_workdir, report_markdown, run_flow
from ..flows.baseline import (compare, load_points, load_report, record, record_differs,
                              run_point, write_table)
from ..flows.board import BOARDS, DEFAULT_BEATS, MAX_BEATS, build_board
from ..flows.cluster import check_scheduler
from ..flows.report import DEFAULT_SEEDS, check_flow_args
from ..flows.sweep import (DEFAULT_POINT_TIMEOUT, check_point_timeout, grid, run_sweep,
                           write_outputs)
from ..tools import ToolError, cache_root, check_workdir, work_root
from .options import FORMAT_STRINGS, UsageError, check_output, spec_from_args

__all__ = ["register"]


def register(subparsers, common, spec_options):
    """Add ``synth``, ``sweep``, ``baseline`` and ``board`` to ``subparsers``; ``common`` and
    ``spec_options`` are the parent parsers of the options every command takes and of the
    configuration options."""
    p = subparsers.add_parser(
        "synth", parents=[common, spec_options],
        help="synthesize, place and route: resources and Fmax",
        description="Synthesize the block with Yosys and place and route it with nextpnr over "
                    "several seeds; write <name>.<target>.synth.json (configuration, target, "
                    "tool versions, cells by primitive, normalised totals, Fmax median/min/max "
                    "and the median run's critical path) and a Markdown summary. ECP5 is placed "
                    "out of context; on iCE40 a block whose ports exceed the package's pins is "
                    "measured inside a harness (the report says so); xilinx is synthesis only.")
    group = p.add_argument_group("FPGA flow")
    group.add_argument("--target", default=DEFAULT_TARGET, metavar="TARGET",
                       help=f"{', '.join(TARGETS)} (default {DEFAULT_TARGET})")
    group.add_argument("--speed", type=int, default=None,
                       help="speed grade (ECP5: 6, 7 or 8; default 8; iCE40 and xilinx have "
                            "none to choose)")
    group.add_argument("--seeds", type=int, default=DEFAULT_SEEDS,
                       help=f"placement seeds 1..N; Fmax is reported as their median, min and "
                            f"max (default {DEFAULT_SEEDS})")
    group.add_argument("--freq", type=float, default=None, metavar="MHZ",
                       help="clock constraint given to nextpnr (default: per target, above "
                            "what blocks reach, so the achieved Fmax is reported)")
    group.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="place-and-route runs at a time (default: the machine's cores)")
    p.add_argument("-o", "--output", type=Path, default=Path("build"), metavar="DIR",
                   help="output folder (default build)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_synth)

    _register_sweep(subparsers, common, spec_options)
    _register_baseline(subparsers, common)

    p = subparsers.add_parser(
        "board", parents=[common, spec_options],
        help="build a self-checking bitstream for a real board",
        description="Build a bitstream in which an on-chip pattern generator feeds the block, "
                    "the outputs are folded into a signature and compared on chip with the "
                    "signature the golden model computed at generation time; an LED shows pass "
                    "(green) or fail (red). Timing must close at the board's clock.")
    p.add_argument("--board", required=True, choices=tuple(BOARDS), help="the board")
    p.add_argument("-o", "--output", type=Path, default=Path("build") / "board", metavar="DIR",
                   help="output folder (default build/board)")
    p.add_argument("--beats", type=int, default=None,
                   help=f"beats the pattern generator sends before the check (default "
                        f"{DEFAULT_BEATS})")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=cmd_board)


def _check_jobs(jobs):
    if jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, not {jobs}")


def cmd_synth(args):
    spec = spec_from_args(args)
    try:
        check_flow_args(args.target, args.speed, args.seeds, args.freq)
    except ValueError as e:
        raise UsageError(str(e)) from None
    _check_jobs(args.jobs)
    check_output(args.output, "-o")
    workdir = flow_workdir(f"{spec.name}.{args.target}", spec, args.output)
    check_output(workdir, "the work folder")
    report = run_flow(spec, args.target, workdir, speed=args.speed, seeds=args.seeds,
                      freq=args.freq, jobs=args.jobs)
    stem = f"{spec.name}.{args.target}"
    written = write_files(args.output, {f"{stem}.synth.json": to_json(report),
                                        f"{stem}.synth.md": report_markdown(report)})
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(report_markdown(report), end="")
        for path in written:
            print(f"wrote {path}")
    return 0


def cmd_board(args):
    spec = spec_from_args(args)
    beats = DEFAULT_BEATS if args.beats is None else args.beats
    if not 1 <= beats <= MAX_BEATS:
        raise UsageError(f"--beats must be an integer from 1 to {MAX_BEATS}, not {beats}")
    check_output(args.output, "-o")
    workdir = flow_workdir(f"board.{args.board}.{spec.name}", spec, args.output)
    check_output(workdir, "the work folder")
    try:
        result = build_board(spec, args.board, workdir, beats)
    except subprocess.CalledProcessError as e:
        raise ToolError(f"the {args.board} build", e.returncode,
                        f"see the logs in {workdir}") from None
    name = f"{args.board}_{spec.name}"
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{name}.bin"
    shutil.copyfile(result["bitstream"], target)
    result["bitstream"] = str(target)
    written = [target] + write_files(out, {f"{name}.json": to_json(result)})
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{result['description']}: {spec.name}, {beats} beats, expected signature "
              f"{result['expected_signature']}; Fmax {result['fmax_mhz']} MHz at a "
              f"{result['clock_mhz']:g} MHz clock: timing "
              f"{'met' if result['timing_met'] else 'NOT met'}")
        for path in written:
            print(f"wrote {path}")
    return 0 if result["timing_met"] else 1


def _register_sweep(subparsers, common, spec_options):
    """Add ``sweep``: every configuration option, ``--target`` and ``--speed`` take comma
    lists (``--slopes`` takes ``;``-separated lists of comma lists)."""
    # Format strings (SQ(4,4), ap_fixed<8,4>) hold commas of their own: a grid of formats is
    # a grid of --width and --frac.
    spec_actions = [a for a in spec_options._actions
                    if a.option_strings and a.dest not in ("help", "config", *FORMAT_STRINGS)]
    p = subparsers.add_parser(
        "sweep", parents=[common], help="run synth over a grid of options, in parallel",
        description="Run the synthesis flow for every combination of the given values (each "
                    "configuration option, --target and --speed take a comma-separated list; "
                    "--slopes takes ';'-separated lists), the machine's cores at a time, and "
                    "write sweep.csv, sweep.json, sweep.md and PNG plots (LUT and FF vs lanes, "
                    "Fmax vs lanes). Failed points are listed with their error; exit status 1 "
                    "if any failed.")
    group = p.add_argument_group("grid (comma-separated lists)")
    for action in spec_actions:
        group.add_argument(*action.option_strings, dest=action.dest, default=None,
                           metavar="LIST", help=action.help)
    flow = p.add_argument_group("FPGA flow")
    flow.add_argument("--target", default=DEFAULT_TARGET, metavar="LIST",
                      help=f"targets (default {DEFAULT_TARGET})")
    flow.add_argument("--speed", default=None, metavar="LIST", help="speed grades")
    flow.add_argument("--seeds", type=int, default=1,
                      help="placement seeds per point (default 1)")
    flow.add_argument("--freq", type=float, default=None, metavar="MHZ",
                      help="clock constraint for nextpnr (default: per target)")
    flow.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                      help="points at a time on this machine, without --scheduler (default: "
                           "the machine's cores)")
    flow.add_argument("--timeout", type=float, default=DEFAULT_POINT_TIMEOUT,
                      metavar="SECONDS",
                      help=f"time a point may take, synthesis and place and route together; "
                           f"a point that takes longer fails (default {DEFAULT_POINT_TIMEOUT})")
    run = p.add_argument_group("where points run, and the cache")
    run.add_argument("--scheduler", default=None, metavar="ADDRESS",
                     help="run the points on a Dask cluster: local:N starts one of N worker "
                          "processes on this machine, tcp://HOST:PORT connects to a running "
                          "scheduler whose workers have relu-hw installed (needs pip install "
                          "'relu-hw[cluster]'; default: threads of this process, --jobs at a "
                          "time)")
    run.add_argument("--cache", type=Path, default=None, metavar="DIR",
                     help="reports of points already done, by content (configuration, target, "
                          "seeds, tool versions): a repeated or interrupted sweep skips them "
                          "(default sweep under the cache folder, $RELU_HW_CACHE or "
                          "~/.cache/relu-hw)")
    run.add_argument("--no-cache", action="store_true",
                     help="run every point, and record none")
    p.add_argument("-o", "--output", type=Path, default=Path("build") / "sweep", metavar="DIR",
                   help="output folder (default build/sweep)")
    p.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                   help="tool work folder, outside /tmp, a folder per point (default "
                        "build/flows/sweep; with --scheduler, the same path on each worker)")
    p.set_defaults(handler=lambda args: cmd_sweep(args, spec_actions))


def _grid_values(args, spec_actions):
    values = {}
    for action in spec_actions:
        text = getattr(args, action.dest)
        if text is None:
            continue
        option = f"--{action.dest.replace('_', '-')}"
        sep = ";" if action.dest == "slopes" else ","
        items = [t.strip() for t in text.split(sep)]
        if any(not t for t in items):
            raise UsageError(f"{option} has an empty item in {text!r}")
        conv = action.type or str
        try:
            items = [conv(t) for t in items]
        except ValueError:
            raise UsageError(f"{option} must be a list of {conv.__name__} values, not "
                             f"{text!r}") from None
        if action.choices:
            for t in items:
                if t not in action.choices:
                    raise UsageError(f"{option} values must be among "
                                     f"{', '.join(action.choices)}, not {t!r}")
        if action.dest == "slopes":
            items = [tuple(s.strip() for s in t.split(",")) for t in items]
        values[action.dest] = items
    values["target"] = [t.strip() for t in args.target.split(",")]
    if args.speed is not None:
        try:
            values["speed"] = [int(s) for s in args.speed.split(",")]
        except ValueError:
            raise UsageError(f"--speed must be a list of integers, not {args.speed!r}") from None
    return values


def cmd_sweep(args, spec_actions):
    values = _grid_values(args, spec_actions)
    _check_jobs(args.jobs)
    if args.scheduler is not None:
        try:
            check_scheduler(args.scheduler)
        except ValueError as e:
            raise UsageError(f"--scheduler: {e}") from None
    try:
        check_point_timeout(args.timeout)
    except ValueError as e:
        raise UsageError(f"--timeout: {e}") from None
    if args.no_cache and args.cache is not None:
        raise UsageError("--cache names the cache that --no-cache turns off; give one of them")
    cache = None if args.no_cache else args.cache or cache_root() / "sweep"
    check_output(args.output, "-o")
    check_output(cache, "--cache")
    try:
        combos = grid(values)
        for combo in combos:
            check_flow_args(combo["target"], combo.get("speed"), args.seeds, args.freq)
    except ValueError as e:
        raise UsageError(str(e)) from None
    try:
        # The default work root is refused from under /tmp, which the YoWASP tools cannot see.
        workdir = check_workdir(args.workdir or work_root() / "flows" / "sweep")
    except (ValueError, OSError) as e:
        raise UsageError(f"--workdir: {e}") from None

    tty = sys.stderr.isatty()

    def progress(done, total, failed):
        width = 30
        bar = "#" * (width * done // total) + "." * (width - width * done // total)
        end = "" if tty and done < total else "\n"
        print(f"{chr(13) if tty else ''}[{bar}] {done}/{total} points, {failed} failed",
              end=end, file=sys.stderr, flush=True)

    points = run_sweep(combos, workdir, seeds=args.seeds, freq=args.freq, jobs=args.jobs,
                       progress=progress, scheduler=args.scheduler, cache=cache,
                       timeout=args.timeout)
    cached = sum(p.cached for p in points)
    ran = sum(p.seconds is not None for p in points)
    print(f"{len(points)} points: {cached} from the cache, {ran} run" +
          (f" ({sum(p.seconds for p in points if p.seconds is not None):.1f} s of work)"
           if ran else ""), file=sys.stderr)
    for path in write_outputs(points, args.output):
        print(f"wrote {path}")
    bad = [p for p in points if not p.ok]
    for point in bad:
        print(f"point {point.index} failed ({point.target}, "
              f"{json.dumps(point.options, sort_keys=True)}): {point.error}", file=sys.stderr)
    return 1 if bad else 0


def _register_baseline(subparsers, common):
    p = subparsers.add_parser(
        "baseline", parents=[common],
        help="regenerate or check the FPGA baselines of record (fpga/)",
        description="With --update, run every point of fpga/baselines.toml and record its "
                    "report in fpga/reports/, then regenerate fpga/RESULTS.md. With --check, "
                    "run them afresh and compare: exit status 1 if a LUT or flip-flop count "
                    "grew or a median Fmax fell more than 10%. With --table, only regenerate "
                    "fpga/RESULTS.md from the recorded reports.")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--update", action="store_true", help="rerun and record every point")
    mode.add_argument("--check", action="store_true", help="rerun and compare, record nothing")
    mode.add_argument("--table", action="store_true", help="regenerate RESULTS.md only")
    p.add_argument("--dir", type=Path, default=Path("fpga"), metavar="DIR",
                   help="the baselines folder (default fpga)")
    p.add_argument("--only", action="append", metavar="ID",
                   help="only this point (repeatable)")
    p.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                   help="tool work folder, outside /tmp (default build/flows/baseline)")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="place-and-route runs at a time (default: the machine's cores)")
    p.set_defaults(handler=cmd_baseline)


def cmd_baseline(args):
    try:
        points = load_points(args.dir)
        if args.table:
            for path in write_table(args.dir, _readme_of(args.dir)):
                print(f"wrote {path}")
            return 0
        _check_jobs(args.jobs)
        if args.only:
            unknown = sorted(set(args.only) - {p.id for p in points})
            if unknown:
                raise ValueError(f"Unknown baseline id {unknown[0]!r}; ids are "
                                 f"{', '.join(p.id for p in points)}")
            points = [p for p in points if p.id in args.only]
        workdir = check_workdir(args.workdir or work_root() / "flows" / "baseline")
        baselines = {} if args.update else {p.id: load_report(args.dir, p.id) for p in points}
    except ValueError as e:
        raise UsageError(str(e)) from None
    stale = {p.id: record_differs(p, baselines[p.id]) for p in points if args.check}
    stale = {pid: problems for pid, problems in stale.items() if problems}
    if stale:
        # A record of another configuration proves nothing about this one: say so first.
        for pid, problems in stale.items():
            print(f"{pid}: STALE RECORD, made for another point: {'; '.join(problems)}; run "
                  f"relu-hw baseline --update --only {pid}", file=sys.stderr)
        return 1
    failed = 0
    for point in points:
        try:
            fresh = run_point(point, workdir, jobs=args.jobs)
        except ToolError as e:
            print(f"{point.id}: ERROR {e}", file=sys.stderr)
            failed += 1
            continue
        f = fresh["fmax_mhz"]
        summary = (f"lut {fresh['totals']['lut']}, ff {fresh['totals']['ff']}, Fmax "
                   + (f"{f['median']:.1f} MHz" if f else "-"))
        if args.update:
            print(f"{point.id}: {summary}; wrote {record(args.dir, point.id, fresh)}")
        else:
            problems = compare(baselines[point.id], fresh)
            failed += bool(problems)
            print(f"{point.id}: {'REGRESSION' if problems else 'ok'} ({summary})"
                  + "".join(f"\n  {p}" for p in problems))
    if args.update and not failed:
        for path in write_table(args.dir, _readme_of(args.dir)):
            print(f"wrote {path}")
    return 1 if failed else 0


def _readme_of(directory):
    """The README beside the baselines folder (the repository's), if it exists."""
    readme = Path(directory).resolve().parent / "README.md"
    return readme if readme.exists() else None
