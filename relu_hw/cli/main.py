# SPDX-License-Identifier: Apache-2.0
"""The ``relu-hw`` command: argument parsing and printing over the library."""

import argparse
import json
import sys
import traceback
from pathlib import Path

from .. import __version__
from ..build import build
from ..files import to_json, write_files
from ..flows import DEFAULT_TARGET, TARGETS, flow_workdir
from ..fusesoc import core_files
from ..generate import manifest, to_verilog
from ..regdocs import regmap_files
from ..sim import simulate
from ..tools import Terminated, ToolError, interruptible
from .flows import register as register_flows
from .options import (Parser, UsageError, check_output, check_sim_args, sim_parser,
                      spec_from_args, spec_parser, writes_from_args)
from .model import register as register_model
from .verify import register as register_verify

__all__ = ["main", "build_parser"]


def _progress(what):
    """A progress line on standard error when it is a terminal, else nothing."""
    if not sys.stderr.isatty():
        return None

    def show(done, total):
        print(f"\r{what}: {done:,}/{total:,} beats ({done / total:.0%})", end="",
              file=sys.stderr, flush=True)
    return show


def _end_progress():
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr, flush=True)


def cmd_generate(args):
    spec = spec_from_args(args)
    check_output(args.output, "-o")
    files = {f"{spec.name}.v": to_verilog(spec, vendor_attributes=args.vendor_attributes),
             f"{spec.name}.json": to_json(manifest(spec)), **core_files(spec)}
    if spec.control != "none":
        files.update(regmap_files(spec))
    for path in write_files(args.output, files):
        print(f"wrote {path}")
    return 0


def cmd_simulate(args):
    spec = spec_from_args(args)
    check_sim_args(args)
    writes = writes_from_args(args, spec)
    show = _progress("simulated")
    try:
        result = simulate(spec, beats=args.beats, seed=args.seed, valid_prob=args.valid_prob,
                          ready_prob=args.ready_prob, vcd=args.vcd, backend=args.backend,
                          verilog=args.verilog, top=args.top,
                          max_idle_cycles=args.max_idle_cycles, writes=writes,
                          progress=show and (lambda done: show(done, args.beats)))
    except ValueError as e:
        raise UsageError(str(e)) from None
    finally:
        _end_progress()
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(f"{spec.name}: {spec.kind}, {spec.lanes} lanes, {spec.input_format} -> "
              f"{spec.output_format}, {spec.stages} stage(s), ready {spec.ready}")
        print(result.summary())
    return 0 if result.passed else 1


def cmd_build(args):
    spec = spec_from_args(args)
    check_sim_args(args)
    writes = writes_from_args(args, spec)
    if args.synth_target != "none" and args.synth_target not in TARGETS:
        raise UsageError(f"--synth-target must be one of {', '.join(TARGETS)} or none, not "
                         f"{args.synth_target!r}")
    check_output(args.output, "-o")
    if args.synth_target != "none":
        check_output(flow_workdir(spec.name, spec, args.output), "the synthesis work folder")
    show = _progress("simulating")
    try:
        result = build(spec, args.output, beats=args.beats, seed=args.seed,
                       valid_prob=args.valid_prob, ready_prob=args.ready_prob,
                       synth_target=args.synth_target, vcd=args.vcd, backend=args.backend,
                       verilog=args.verilog, top=args.top,
                       max_idle_cycles=args.max_idle_cycles, writes=writes,
                       progress=show and (lambda step, done, total: show(done, total)))
    except ValueError as e:
        raise UsageError(str(e)) from None
    finally:
        _end_progress()
    if args.json:
        print(json.dumps(result.report, indent=2))
    else:
        print(result.markdown, end="")
        for path in result.written:
            print(f"wrote {path}")
    return 0 if result.passed else 1


def build_parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error")
    parser = Parser(
        prog="relu-hw", parents=[common],
        description="Generate bit-exact FPGA hardware for ReLU-family activations: Verilog "
                    "with AXI4-Stream ports, a manifest, and a cycle-accurate check against "
                    "a NumPy golden model. Exit status: 0 done, 1 a check or a tool failed, "
                    "2 bad input, 130 interrupted.")
    parser.add_argument("--version", action="version", version=f"relu-hw {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    spec_options = spec_parser()
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("-o", "--output", type=Path, default=Path("build"), metavar="DIR",
                     help="output folder (default build)")
    json_out = argparse.ArgumentParser(add_help=False)
    json_out.add_argument("--json", action="store_true",
                          help="print the result as JSON on standard output")

    p = sub.add_parser(
        "generate", parents=[common, spec_options, out],
        help="write <name>.v, <name>.json and a FuseSoC core with a self-checking testbench",
        description="Write the Verilog (<name>.v), its manifest (<name>.json), a FuseSoC core "
                    "(<name>.core) and the self-checking testbench its sim target runs "
                    "(<name>_tb.v, with vectors from the golden model in <name>_in.hex and "
                    "<name>_out.hex).")
    p.add_argument("--no-vendor-attributes", dest="vendor_attributes", action="store_false",
                   help="leave out the Xilinx interface attributes (X_INTERFACE_INFO, "
                        "X_INTERFACE_PARAMETER) from which Vivado infers the AXI4-Stream "
                        "interfaces, clock and reset")
    p.set_defaults(handler=cmd_generate)
    sub.add_parser("simulate", parents=[common, spec_options, sim_parser(1.0, 1.0), json_out],
                   help="check the gateware cycle by cycle against the golden model",
                   description="Simulate the block cycle-accurately under random idle cycles "
                               "and backpressure, check every output beat against the NumPy "
                               "golden model, and report throughput and latency. Beats are "
                               "made, simulated and checked in chunks, so memory does not "
                               "grow with --beats. Exit status 1 on any mismatch, a stall or "
                               "a model that stops itself."
                   ).set_defaults(handler=cmd_simulate)
    p = sub.add_parser(
        "build", parents=[common, spec_options, out, sim_parser(0.7, 0.7), json_out],
        help="generate + simulate + synthesize + report (the main job)",
        description="Generate Verilog and manifest, simulate at full rate and under random "
                    "handshakes, synthesize, place and route, and write a report, all into the "
                    "output folder at the end. With no options, builds the embedded default. "
                    "Exit status 1 if a simulation or the synthesis fails.")
    p.add_argument("--synth-target", default=DEFAULT_TARGET, metavar="TARGET",
                   help=f"target of the build's synthesis summary: {', '.join(TARGETS)}, or "
                        f"none to skip it (default {DEFAULT_TARGET}, 3 seeds)")
    p.set_defaults(handler=cmd_build)
    register_verify(sub, common, spec_options)
    register_flows(sub, common, spec_options)
    register_model(sub, common, spec_options)
    return parser


def main(argv=None):
    """Run ``relu-hw`` with ``argv`` (default ``sys.argv[1:]``); return the exit status: 0
    done, 1 a check or a tool failed, 2 bad input, 130 interrupted (one Ctrl-C stops every
    tool the command started), 143 terminated (SIGTERM, likewise)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with interruptible():
            return args.handler(args)
    except UsageError as e:
        print(f"relu-hw {args.command}: error: {e}\nsee relu-hw {args.command} --help",
              file=sys.stderr)
        return 2
    except ToolError as e:
        # A tool the command runs failed; its diagnostics are in the message.
        print(f"relu-hw {args.command}: error: {e}", file=sys.stderr)
        return 1
    except Terminated:
        _end_progress()
        print(f"relu-hw {args.command}: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        _end_progress()
        print(f"relu-hw {args.command}: interrupted", file=sys.stderr)
        return 130
    except OSError as e:
        if args.debug:
            raise
        where = f" {e.filename}" if e.filename else ""
        print(f"relu-hw {args.command}: error:{where}: {e.strerror or e}", file=sys.stderr)
        return 1
    except Exception as e:
        if args.debug:
            raise
        frame = traceback.extract_tb(e.__traceback__)[-1]
        print(f"relu-hw {args.command}: internal error: {type(e).__name__}: {e} (at "
              f"{Path(frame.filename).name}:{frame.lineno}; run again with --debug for the "
              f"traceback, and please report it)", file=sys.stderr)
        return 1
