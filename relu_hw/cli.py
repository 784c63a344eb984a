# SPDX-License-Identifier: Apache-2.0
"""The ``relu-hw`` command line: a thin layer over the library."""

import argparse
import json
import sys
from pathlib import Path

from . import spec as specmod
from .flows.tools import ToolError
from .generate import manifest, read_toml, to_json, to_verilog, write_text_files
from .simulate import BACKENDS, simulate
from .verilator import VerilatorError

__all__ = ["main"]

# (option, type, help); every default is the Spec's own.
_SPEC_OPTIONS = [
    ("kind", str, f"activation: {', '.join(specmod.KINDS)} (default relu)"),
    ("width", int, "input width in bits, 2 to 32 (default 16)"),
    ("frac", int, "fractional bits of the input, 0 to width (default 8)"),
    ("out-width", int, "output width in bits (default: the input width)"),
    ("out-frac", int, "fractional bits of the output (default: the input's)"),
    ("slope", str, f"leaky_relu slope, a decimal or fraction such as 0.01 or 41/4096 "
                   f"(default {specmod.DEFAULT_SLOPE})"),
    ("slopes", str, "prelu slopes, comma-separated, one per lane (required for prelu)"),
    ("slope-impl", str, f"how slopes are multiplied: {', '.join(specmod.SLOPE_IMPLS)} "
                        f"(default auto: shifts for powers of two, shift-and-add for up to "
                        f"{specmod.AUTO_SHIFT_ADD_DIGITS} signed digits, else a multiplier)"),
    ("slope-frac", int, "fractional bits of the quantized slopes (default: the fewest that "
                        "keep each within 2^-12 relative)"),
    ("threshold", str, f"thresholded_relu threshold (default {specmod.DEFAULT_THRESHOLD})"),
    ("max-value", str, "clip the activation from above, e.g. 6 for ReLU6 (default: none)"),
    ("rounding", str, f"rounding into the output format: {', '.join(specmod.ROUNDING_MODES)} "
                      f"(default floor)"),
    ("overflow", str, f"overflow handling: {', '.join(specmod.OVERFLOW_MODES)} "
                      f"(default saturate)"),
    ("lanes", int, "parallel lanes per beat, 1 to 256 (default 4)"),
    ("stages", int, "pipeline register stages = latency in cycles, 1 to 16 (default 1)"),
    ("ready", str, "input ready: registered (skid buffer) or combinational "
                   "(default registered)"),
    ("zeroing", str, "how an output forced to a constant (ReLU's zero, a clip limit) is "
                     "made: reset (the flip-flops' synchronous reset or set; cheapest where it "
                     "waits for the enable, as on iCE40), logic (masks before the register; "
                     "keeps control off the reset pins where reset overrides enable, as on ECP5 "
                     "and Xilinx) or auto (logic with registered ready, reset with "
                     "combinational; default)"),
    ("user-width", int, "width of TUSER, 0 for none (default 0)"),
    ("name", str, "Verilog module and file name (default <kind>_axis)"),
]

_CHOICES = {"kind": tuple(specmod.KINDS), "rounding": tuple(specmod.ROUNDING_MODES),
            "overflow": tuple(specmod.OVERFLOW_MODES), "slope-impl": specmod.SLOPE_IMPLS,
            "ready": specmod.READY_MODES, "zeroing": specmod.ZEROING_MODES}


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""


def _spec_parser():
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group(
        "configuration (also keys of --config)",
        "Values starting with '-' that are not plain numbers need the --option=VALUE form, "
        "e.g. --slopes=-0.1,0.2 or --threshold=-1e-3.")
    group.add_argument("--config", metavar="FILE.toml", type=Path,
                       help="read options from a TOML file; command-line options win")
    for option, type_, help_ in _SPEC_OPTIONS:
        group.add_argument(f"--{option}", type=type_, default=None, help=help_,
                           choices=_CHOICES.get(option),
                           metavar=option.upper().replace("-", "_") if option not in _CHOICES
                           else None)
    return parser


def _sim_parser(valid_default, ready_default):
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("simulation")
    group.add_argument("--beats", type=int, default=2000,
                       help="input beats to simulate (default 2000)")
    group.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    group.add_argument("--valid-prob", type=float, default=valid_default, metavar="P",
                       help=f"probability the source offers a beat on a cycle "
                            f"(default {valid_default})")
    group.add_argument("--ready-prob", type=float, default=ready_default, metavar="P",
                       help=f"probability the sink is ready on a cycle (default {ready_default})")
    group.add_argument("--vcd", type=Path, metavar="FILE", help="write a VCD waveform")
    group.add_argument("--backend", choices=BACKENDS, default="amaranth",
                       help="simulator: amaranth (Python, the gateware itself) or verilator "
                            "(compiled from the emitted Verilog; fast) (default amaranth)")
    group.add_argument("--verilog", type=Path, metavar="FILE",
                       help="with --backend verilator: check this Verilog file (AXI4-Stream "
                            "ports as documented) instead of the generated one")
    group.add_argument("--top", metavar="MODULE",
                       help="with --verilog: the top module's name (default: the one module "
                            "with the configuration's ports)")
    return parser


def build_parser():
    parser = argparse.ArgumentParser(
        prog="relu-hw",
        description="Generate bit-exact FPGA hardware for ReLU-family activations: Verilog "
                    "with AXI4-Stream ports, a manifest, and a cycle-accurate check against "
                    "a NumPy golden model.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"relu-hw {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    spec_options = _spec_parser()
    out = argparse.ArgumentParser(add_help=False)
    out.add_argument("-o", "--output", type=Path, default=Path("build"), metavar="DIR",
                     help="output folder (default build)")
    json_out = argparse.ArgumentParser(add_help=False)
    json_out.add_argument("--json", action="store_true",
                          help="print the result as JSON on standard output")

    sub.add_parser("generate", parents=[spec_options, out],
                   help="write <name>.v and <name>.json",
                   description="Write the Verilog (<name>.v) and its manifest (<name>.json).",
                   ).set_defaults(handler=cmd_generate)
    sub.add_parser("simulate", parents=[spec_options, _sim_parser(1.0, 1.0), json_out],
                   help="check the gateware cycle by cycle against the golden model",
                   description="Simulate the block cycle-accurately under random idle cycles "
                               "and backpressure, check every output beat against the NumPy "
                               "golden model, and report throughput and latency. Exit status "
                               "1 on any mismatch.").set_defaults(handler=cmd_simulate)
    build = sub.add_parser(
                   "build", parents=[spec_options, out, _sim_parser(0.7, 0.7), json_out],
                   help="generate + simulate + report (the main job)",
                   description="Generate Verilog and manifest, simulate at full rate and under "
                               "random handshakes, and write a report, all into the output "
                               "folder. With no options, builds the embedded default.")
    build.set_defaults(handler=cmd_build)
    from . import verify_cli
    verify_cli.register(sub, spec_options, spec_from_args)
    from .flows import commands as flow_commands
    flow_commands.add_build_options(build)
    flow_commands.register(sub, spec_options, spec_from_args)
    return parser


def spec_from_args(args):
    """A :class:`~relu_hw.spec.Spec` from parsed arguments and an optional TOML file."""
    options = {}
    if args.config is not None:
        options.update(_read_config(args.config))
    for option, _, _ in _SPEC_OPTIONS:
        value = getattr(args, option.replace("-", "_"))
        if value is not None:
            options[option.replace("-", "_")] = value
    if isinstance(options.get("slopes"), str):
        options["slopes"] = tuple(s.strip() for s in options["slopes"].split(","))
    elif isinstance(options.get("slopes"), list):
        options["slopes"] = tuple(options["slopes"])
    try:
        return specmod.Spec(**options)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None


def _read_config(path):
    try:
        table = read_toml(path)
    except ValueError as e:
        raise UsageError(f"config: {e}") from None
    known = {option.replace("-", "_") for option, _, _ in _SPEC_OPTIONS}
    options = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            raise UsageError(f"config {path}: unknown key {key!r}; keys are the options "
                             f"without '--', e.g. 'kind' or 'out-width'")
        options[name] = value
    return options


def _progress(total):
    if not sys.stderr.isatty():
        return None

    def show(done):
        print(f"\rsimulated {done}/{total} beats", end="", file=sys.stderr, flush=True)
    return show


def _run_sim(spec, args, valid_prob, ready_prob, vcd=None):
    try:
        result = simulate(spec, beats=args.beats, seed=args.seed, valid_prob=valid_prob,
                          ready_prob=ready_prob, vcd=vcd, progress=_progress(args.beats),
                          backend=args.backend, verilog=args.verilog, top=args.top)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if sys.stderr.isatty():
        print("\r", end="", file=sys.stderr)
    return result


def _sim_summary(result):
    lines = [
        f"{'PASS' if result.passed else 'FAIL'}: {result.beats} beats in {result.cycles} "
        f"cycles (ideal {result.ideal_cycles}), throughput {result.throughput:.3f} beats/cycle "
        f"({result.efficiency:.1%} of ideal), valid_prob {result.valid_prob}, "
        f"ready_prob {result.ready_prob}, seed {result.seed}",
        f"latency {result.latency} cycles nominal; observed min {result.latency_min}, "
        f"max {result.latency_max}",
        f"{result.mismatch_count} mismatching beat fields; simulated at "
        f"{result.beats_per_second:,.0f} beats/s ({result.seconds:.2f} s, {result.backend})",
    ]
    lines += [f"  mismatch: {m}" for m in result.mismatches]
    return "\n".join(lines)


def _check_sim_args(args):
    if args.beats < 1:
        raise UsageError(f"--beats must be a positive integer, not {args.beats}")
    for name in ("valid_prob", "ready_prob"):
        p = getattr(args, name)
        if not 0 < p <= 1:
            raise UsageError(f"--{name.replace('_', '-')} must be in (0, 1], not {p}")


def cmd_generate(args):
    spec = spec_from_args(args)
    files = {f"{spec.name}.v": to_verilog(spec), f"{spec.name}.json": to_json(manifest(spec))}
    for path in write_text_files(args.output, files):
        print(f"wrote {path}")
    return 0


def cmd_simulate(args):
    spec = spec_from_args(args)
    _check_sim_args(args)
    result = _run_sim(spec, args, args.valid_prob, args.ready_prob, vcd=args.vcd)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(f"{spec.name}: {spec.kind}, {spec.lanes} lanes, {spec.input_format} -> "
              f"{spec.output_format}, {spec.stages} stage(s), ready {spec.ready}")
        print(_sim_summary(result))
    return 0 if result.passed else 1


def cmd_build(args):
    spec = spec_from_args(args)
    _check_sim_args(args)
    verilog_text = to_verilog(spec)
    man = manifest(spec)
    full = _run_sim(spec, args, 1.0, 1.0)
    stressed = _run_sim(spec, args, args.valid_prob, args.ready_prob, vcd=args.vcd)
    report = {"manifest": man, "simulation": {"full_rate": full.as_dict(),
                                              "random_handshakes": stressed.as_dict()}}
    from .flows.commands import build_summary
    report["synthesis"], synthesis = build_summary(spec, args.output, args.synth_target)
    files = {
        f"{spec.name}.v": verilog_text,
        f"{spec.name}.json": to_json(man),
        f"{spec.name}.report.json": to_json(report),
        f"{spec.name}.report.md": _report_markdown(spec, man, full, stressed, synthesis),
    }
    written = write_text_files(args.output, files)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(files[f"{spec.name}.report.md"], end="")
        for path in written:
            print(f"wrote {path}")
    return 0 if full.passed and stressed.passed else 1


def _report_markdown(spec, man, full, stressed, synthesis=""):
    rows = [
        ("kind", f"{spec.kind}: {specmod.KINDS[spec.kind]}"),
        ("lanes", spec.lanes),
        ("input", f"{spec.input_format} ({spec.width} bits, {spec.frac} fractional)"),
        ("output", f"{spec.output_format} ({spec.out_width} bits, {spec.out_frac} fractional)"),
        ("rounding", f"{spec.rounding} ({specmod.ROUNDING_MODES[spec.rounding]})"),
        ("overflow", f"{spec.overflow} ({specmod.OVERFLOW_MODES[spec.overflow]})"),
        ("pipeline", f"{spec.stages} stage(s), latency {spec.latency}, ready {spec.ready}"),
    ]
    consts = spec.constants()
    for k, q in enumerate(consts.get("slopes", [])):
        if spec.kind == "leaky_relu" and k:
            break
        label = "slope" if spec.kind == "leaky_relu" else f"slope[{k}]"
        rows.append((label, f"{q['requested']} -> {q['value']} (error {q['error']}, "
                            f"relative {q['relative_error']:.2e}, {q['impl']})"))
    for name in ("threshold", "max_value"):
        if name in consts:
            q = consts[name]
            rows.append((name, f"{q['requested']} -> {q['value']} (error {q['error']})"))
    ports = ", ".join(f"{n}[{p['width']}]" for n, p in man["ports"].items())
    out = [f"# {spec.name}", "", "| parameter | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    out += ["", f"Ports: {ports}", "", "## Simulation against the golden model", ""]
    for title, result in (("Full rate", full), ("Random handshakes", stressed)):
        out += [f"### {title}", "", "```", _sim_summary(result), "```", ""]
    return "\n".join(out) + (f"\n{synthesis}" if synthesis else "")


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as e:
        parser.exit(2, f"relu-hw: error: {e}\n")
    except (ToolError, VerilatorError) as e:
        # A tool the command runs failed; its diagnostics are in the message.
        parser.exit(1, f"relu-hw: error: {e}\n")


if __name__ == "__main__":
    # Run the package's copy of this module, so that the UsageError subcommands raise (imported
    # from relu_hw.cli) is the one main() catches, not __main__'s.
    from relu_hw.cli import main as package_main
    sys.exit(package_main())
