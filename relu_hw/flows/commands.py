# SPDX-License-Identifier: Apache-2.0
"""The FPGA-flow subcommands of ``relu-hw``: ``synth``, ``sweep``, ``baseline`` and ``board``.

Kept apart from :mod:`relu_hw.cli`, which only calls :func:`register` and :func:`build_summary`.
"""

import json
import os
from pathlib import Path

__all__ = ["register", "build_summary", "add_build_options"]


def _usage_error(message):
    from ..cli import UsageError
    return UsageError(message)


def _flow_options(parser, seeds_default=3):
    from .report import DEFAULT_SEEDS
    from .targets import DEFAULT_TARGET, TARGETS
    group = parser.add_argument_group("FPGA flow")
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
    return group


def _check_jobs(jobs):
    if jobs < 1:
        raise _usage_error(f"--jobs must be a positive integer, not {jobs}")


def _workdir_for(output, key):
    """Tool work folder for ``key``, kept out of the output folder: ``build/flows/<key>`` under
    the current folder, or under the user's cache when the current folder is below /tmp (which
    the YoWASP tools cannot see)."""
    from .tools import _under_tmp
    if not _under_tmp(Path.cwd()):
        return Path("build") / "flows" / key    # relative: reports carry no host paths
    base = Path.home() / ".cache" / "relu-hw" / "flows"
    if not _under_tmp(base):
        return base / key
    raise _usage_error("no work folder outside /tmp is available for the YoWASP tools; run "
                       "from a folder outside /tmp")


def _run(spec, args, output):
    from .report import run_flow
    from .tools import ToolError
    try:
        from .report import check_flow_args
        check_flow_args(args.target, args.speed, args.seeds, args.freq)
    except ValueError as e:
        raise _usage_error(str(e)) from None
    _check_jobs(args.jobs)
    workdir = _workdir_for(output, f"{spec.name}.{args.target}")
    try:
        return run_flow(spec, args.target, workdir, speed=args.speed, seeds=args.seeds,
                        freq=args.freq, jobs=args.jobs)
    except ToolError as e:
        raise _usage_error(str(e)) from None


def cmd_synth(args, spec_from_args):
    from ..generate import to_json, write_text_files
    from .report import report_markdown
    spec = spec_from_args(args)
    report = _run(spec, args, args.output)
    stem = f"{spec.name}.{args.target}"
    files = {f"{stem}.synth.json": to_json(report), f"{stem}.synth.md": report_markdown(report)}
    written = write_text_files(args.output, files)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(report_markdown(report), end="")
        for path in written:
            print(f"wrote {path}")
    return 0


def add_build_options(parser):
    """``--synth-target`` for ``relu-hw build``."""
    from .targets import DEFAULT_TARGET, TARGETS
    parser.add_argument("--synth-target", default=DEFAULT_TARGET, metavar="TARGET",
                        help=f"target of the build's synthesis summary: {', '.join(TARGETS)}, "
                             f"or none to skip it (default {DEFAULT_TARGET}, 3 seeds)")


def build_summary(spec, output, target=None):
    """``(report or None, markdown)``: the synthesis summary ``relu-hw build`` adds, for
    ``target`` (default :data:`~.targets.DEFAULT_TARGET`; ``"none"`` skips it). A tool failure
    is reported in the text, not raised: the build's own result does not depend on it."""
    from .report import check_flow_args, run_flow
    from .targets import DEFAULT_TARGET
    from .tools import ToolError
    target = DEFAULT_TARGET if target is None else target
    if target == "none":
        return None, ""
    try:
        check_flow_args(target)
    except ValueError as e:
        raise _usage_error(str(e)) from None
    workdir = _workdir_for(output, f"{spec.name}.{target}")
    try:
        report = run_flow(spec, target, workdir, jobs=os.cpu_count() or 1)
    except ToolError as e:
        return None, f"## Synthesis ({target})\n\nFailed: {e}\n"
    from .report import report_markdown
    text = report_markdown(report).split("\n", 2)[2]  # drop the title: build has its own
    return report, f"## Synthesis ({target})\n\n{text}"


def register(subparsers, spec_options_parent, spec_from_args):
    """Add ``synth``, ``sweep``, ``baseline`` and ``board`` to ``subparsers``; each subparser's
    ``handler`` default runs its command. ``spec_from_args`` turns parsed arguments into a
    :class:`~relu_hw.spec.Spec`, raising the CLI's usage error on bad input."""
    from .board import BOARDS

    out_default = Path("build")
    p = subparsers.add_parser(
        "synth", parents=[spec_options_parent],
        help="synthesize, place and route: resources and Fmax",
        description="Synthesize the block with Yosys and place and route it with nextpnr over "
                    "several seeds; write <name>.<target>.synth.json (configuration, target, "
                    "tool versions, cells by primitive, normalised totals, Fmax median/min/max "
                    "and the median run's critical path) and a Markdown summary. ECP5 is placed "
                    "out of context; on iCE40 a block whose ports exceed the package's pins is "
                    "measured inside a harness (the report says so); xilinx is synthesis only.")
    _flow_options(p)
    p.add_argument("-o", "--output", type=Path, default=out_default, metavar="DIR",
                   help="output folder (default build)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=lambda args: cmd_synth(args, spec_from_args))

    from .sweep import register_sweep
    register_sweep(subparsers, spec_options_parent, _flow_options, _usage_error)

    from .baseline import register_baseline
    register_baseline(subparsers, _usage_error)

    p = subparsers.add_parser(
        "board", parents=[spec_options_parent],
        help="build a self-checking bitstream for a real board",
        description="Build a bitstream in which an on-chip pattern generator feeds the block, "
                    "the outputs are folded into a signature and compared on chip with the "
                    "signature the golden model computed at generation time; an LED shows pass "
                    "(green) or fail (red). Timing must close at the board's clock.")
    p.add_argument("--board", required=True, choices=tuple(BOARDS), help="the board")
    p.add_argument("-o", "--output", type=Path, default=Path("build") / "board", metavar="DIR",
                   help="output folder (default build/board)")
    p.add_argument("--beats", type=int, default=None,
                   help="beats the pattern generator sends before the check (default 1024)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=lambda args: _cmd_board(args, spec_from_args))
    return subparsers


def _cmd_board(args, spec_from_args):
    from .board import cmd_board
    return cmd_board(args, _usage_error, _workdir_for, spec_from_args)
