# SPDX-License-Identifier: Apache-2.0
"""Options every subcommand shares: the configuration (also keys of a TOML file) and the
simulation; and the usage error they raise."""

import argparse
from pathlib import Path

from .. import spec as specmod
from ..files import check_file, check_folder, read_toml
from ..frames import parse_writes
from ..sim import BACKENDS
from ..sim.stimulus import MAX_BEATS, MAX_IDLE_CYCLES
from ..sim.verilator import model_cache

__all__ = ["UsageError", "SPEC_OPTIONS", "FORMAT_STRINGS", "Parser", "spec_parser", "sim_parser",
           "check_sim_args", "check_output", "spec_from_args", "spec_dests", "writes_from_args"]


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors take two lines: the error, naming the option and
    what it accepts, then where to read more."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\nsee {self.prog} --help\n")


class _Once(argparse.Action):
    """An option that may be given once."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest, None) is not None:
            parser.error(f"{option_string} given twice; give one file (options on the command "
                         f"line win over its keys)")
        setattr(namespace, self.dest, values)


# (option, type, help); every default is the Spec's own.
SPEC_OPTIONS = [
    ("kind", str, f"activation: {', '.join(specmod.KINDS)} (default relu)"),
    ("width", int, "input width in bits, 2 to 32 (default 16)"),
    ("frac", int, "fractional bits of the input, 0 to width (default 8)"),
    ("out-width", int, "output width in bits (default: the input width)"),
    ("out-frac", int, "fractional bits of the output (default: the input's)"),
    ("in-format", str, "input format in RFC 41 notation: SQ(i,f) signed or UQ(i,f) unsigned, "
                       "i integer bits (counting the sign) and f fractional (instead of "
                       "--width/--frac; default SQ(8,8))"),
    ("out-format", str, "output format, SQ(i,f) or UQ(i,f) (default: the input's)"),
    ("precision", str, "input format as a C++ type: ap_fixed<W,I[,Q[,O]]>, ap_ufixed<...>, "
                       "ap_int<W>, ap_uint<W>, or hls4ml's fixed<W,I>, ufixed<W,I> (I counts "
                       "the sign bit). When the output takes this type too, its modes Q and O "
                       "set the rounding and overflow, as in ap_fixed; a type that omits them "
                       "means ap_fixed's defaults, AP_TRN (floor) and AP_WRAP (wrap), unless "
                       "--rounding/--overflow say otherwise"),
    ("out-precision", str, "output format as a C++ type, like --precision; its modes (or "
                           "ap_fixed's defaults AP_TRN and AP_WRAP where it omits them) set "
                           "the rounding and overflow"),
    ("slope", str, f"leaky_relu slope, a decimal or fraction such as 0.01 or 41/4096 "
                   f"(default {specmod.DEFAULT_SLOPE})"),
    ("slopes", str, "prelu slopes, comma-separated, one per lane (required for prelu)"),
    ("slope-impl", str, f"how slopes are multiplied: {', '.join(specmod.SLOPE_IMPLS)} "
                        f"(default auto: shifts for powers of two, shift-and-add for up to "
                        f"{specmod.AUTO_SHIFT_ADD_DIGITS} signed digits, else a multiplier)"),
    ("slope-frac", int, "fractional bits of the quantized slopes (default: the fewest that "
                        "keep each within 2^-12 relative)"),
    ("threshold", str, f"thresholded_relu threshold (default {specmod.DEFAULT_THRESHOLD})"),
    ("alpha", str, f"elu and celu alpha, a decimal or fraction from 2^-16 to below 2^16, "
                   f"taken exactly (default {specmod.DEFAULT_ALPHA}); selu has PyTorch's "
                   f"constants. These kinds are built from a table of the exact function "
                   f"rounded once, for every negative input code above a computed bound, "
                   f"and take input widths up to {specmod.MAX_TABLE_WIDTH} bits"),
    ("max-value", str, "clip the activation from above, e.g. 6 for ReLU6 (default: none)"),
    ("rounding", str, f"rounding into the output format: {', '.join(specmod.ROUNDING_MODES)}; "
                      f"or a framework's name: ap_fixed's (AP_RND_CONV), or "
                      f"{', '.join(f for f in specmod.FRAMEWORKS if f != 'ap_fixed')} names "
                      f"with their prefix (qonnx:HALF_UP). A name alone is taken only where "
                      f"every tool means the same by it: QONNX's HALF_UP rounds ties away from "
                      f"zero (our half_away), not up like our half_up, so it needs "
                      f"'qonnx:' (default floor)"),
    ("overflow", str, f"overflow handling: {', '.join(specmod.OVERFLOW_MODES)}, or ap_fixed's "
                      f"name (AP_SAT_ZERO) (default saturate)"),
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
    ("control", str, "none, or axi-lite: an AXI4-Lite slave (s_axil_*) with identity, control, "
                     "runtime-parameter and telemetry registers, and the register map's files "
                     "(default none)"),
    ("runtime", str, "constants that become registers, comma-separated: slope, max_value, "
                     "threshold; a write takes effect at the next frame boundary (needs "
                     "--control axi-lite)"),
    ("channels", int, f"prelu channels, one slope each: a multiple of --lanes up to "
                      f"{specmod.MAX_CHANNELS}; beats take channels in order, lanes at a time, "
                      f"and TLAST restarts at channel 0 (default: one per lane)"),
]

_CHOICES = {"kind": tuple(specmod.KINDS), "slope-impl": specmod.SLOPE_IMPLS,
            "ready": specmod.READY_MODES, "zeroing": specmod.ZEROING_MODES,
            "control": specmod.CONTROL_MODES}

#: Options whose values are format strings.
FORMAT_STRINGS = ("in_format", "out_format", "precision", "out_precision")

#: The ways of giving each format: one way per format, from the command line or the file.
_FORMAT_WAYS = {
    "input": {"--width/--frac": ("width", "frac"), "--in-format": ("in_format",),
              "--precision": ("precision",)},
    "output": {"--out-width/--out-frac": ("out_width", "out_frac"),
               "--out-format": ("out_format",), "--out-precision": ("out_precision",)},
}


def spec_parser():
    """A parent parser holding ``--config`` and every configuration option."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group(
        "configuration (also keys of --config)",
        "Values starting with '-' that are not plain numbers need the --option=VALUE form, "
        "e.g. --slopes=-0.1,0.2 or --threshold=-1e-3.")
    group.add_argument("--config", metavar="FILE.toml", type=Path, action=_Once,
                       help="read options from a TOML file; command-line options win")
    for option, type_, help_ in SPEC_OPTIONS:
        group.add_argument(f"--{option}", type=type_, default=None, help=help_,
                           choices=_CHOICES.get(option),
                           metavar=option.upper().replace("-", "_") if option not in _CHOICES
                           else None)
    return parser


def spec_dests():
    """The ``argparse`` destinations of the configuration options."""
    return [option.replace("-", "_") for option, _, _ in SPEC_OPTIONS]


def sim_parser(valid_default, ready_default):
    """A parent parser holding the simulation options."""
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
    group.add_argument("--max-idle-cycles", type=int, default=MAX_IDLE_CYCLES, metavar="N",
                       help=f"end the run as a failure after N cycles without an output beat "
                            f"(default {MAX_IDLE_CYCLES:,}; raise it for valid or ready "
                            f"probabilities below about 1e-3)")
    group.add_argument("--writes", type=Path, metavar="FILE.toml",
                       help="runtime parameter writes, applied over AXI4-Lite so that a given "
                            "frame is the first computed with each: [[write]] tables with "
                            "frame, register (SLOPE, SLOPE<c>, MAX_VALUE, THRESHOLD) and value "
                            "(a decimal or fraction) or code")
    return parser


def check_sim_args(args):
    """Usage errors of the simulation options, and the paths they name, checked before any
    long work."""
    if not 1 <= args.beats <= MAX_BEATS:
        raise UsageError(f"--beats must be an integer from 1 to {MAX_BEATS:.0e}, not "
                         f"{args.beats}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, not {args.seed}")
    for name in ("valid_prob", "ready_prob"):
        p = getattr(args, name)
        if not 0 < p <= 1:
            raise UsageError(f"--{name.replace('_', '-')} must be a probability in (0, 1], "
                             f"not {p}")
    if args.max_idle_cycles < 1:
        raise UsageError(f"--max-idle-cycles must be a positive integer, not "
                         f"{args.max_idle_cycles}")
    if args.backend == "amaranth" and (args.verilog is not None or args.top is not None):
        raise UsageError(f"--{'verilog' if args.verilog is not None else 'top'} needs "
                         f"--backend verilator")
    if args.top is not None and args.verilog is None:
        raise UsageError("--top names the top module of --verilog FILE; give the file too")
    if args.verilog is not None and not args.verilog.is_file():
        raise UsageError(f"--verilog {args.verilog}: no such file")
    if args.writes is not None and not args.writes.is_file():
        raise UsageError(f"--writes {args.writes}: no such file")
    check_output(args.vcd, "--vcd", file=True)
    if args.backend == "verilator":
        try:
            check_folder(model_cache())
        except ValueError as e:
            raise UsageError(f"the Verilator model cache (set RELU_HW_CACHE to move it): "
                             f"{e}") from None


def check_output(path, option, file=False):
    """A usage error naming ``option`` unless ``path`` (if given) can be written."""
    if path is None:
        return
    try:
        (check_file if file else check_folder)(path)
    except ValueError as e:
        raise UsageError(f"{option}: {e}") from None


def writes_from_args(args, spec):
    """The register writes of ``--writes FILE.toml`` for ``spec``, or ``[]``."""
    if getattr(args, "writes", None) is None:
        return []
    try:
        table = read_toml(args.writes)
    except ValueError as e:
        raise UsageError(f"--writes: {e}") from None
    unknown = sorted(set(table) - {"write"})
    if unknown:
        raise UsageError(f"--writes {args.writes}: unknown key {unknown[0]!r}; the file holds "
                         f"[[write]] tables")
    items = table.get("write", [])
    if not isinstance(items, list):
        raise UsageError(f"--writes {args.writes}: 'write' must be an array of tables "
                         f"([[write]])")
    try:
        return parse_writes(spec, items, what="[[write]]")
    except (TypeError, ValueError) as e:
        raise UsageError(f"--writes {args.writes}: {e}") from None


def spec_from_args(args):
    """A :class:`~relu_hw.spec.Spec` from parsed arguments and an optional TOML file.

    Each format is given one way (``--width``/``--frac``, ``--in-format`` or ``--precision``,
    and likewise for the output); a way given on the command line replaces the file's way of
    giving that format."""
    from_file = _read_config(args.config) if args.config is not None else {}
    given = {dest: getattr(args, dest) for dest in spec_dests()
             if getattr(args, dest) is not None}
    for ways in _FORMAT_WAYS.values():
        for way, keys in ways.items():
            if any(key in given for key in keys):
                for other in ways.values():
                    if other != keys:
                        for key in other:
                            from_file.pop(key, None)
    options = {**from_file, **given}
    if isinstance(options.get("slopes"), str):
        options["slopes"] = tuple(s.strip() for s in options["slopes"].split(","))
    elif isinstance(options.get("slopes"), list):
        options["slopes"] = tuple(options["slopes"])
    try:
        options = _formats(options)
        return specmod.Spec(**options)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None


def _formats(options):
    """``options`` with the format strings turned into the Spec's widths, fractions and
    signedness, and the modes of the type string that describes the output into rounding
    and overflow."""
    for side, ways in _FORMAT_WAYS.items():
        used = [way for way, keys in ways.items() if any(k in options for k in keys)]
        if len(used) > 1:
            raise ValueError(f"The {side} format is given as {' and as '.join(used)}; give "
                             f"it one way")
    prefix = {"input": "", "output": "out_"}
    types = {}
    for side in ("input", "output"):
        p = prefix[side]
        text = options.pop(f"{'in' if side == 'input' else 'out'}_format", None)
        if text is not None:
            fmt = specmod.parse_format(text, f"--{'in' if side == 'input' else 'out'}-format")
        else:
            text = options.pop(f"{p}precision", None)
            if text is None:
                continue
            fmt, *modes = specmod.parse_type(text, f"--{p.replace('_', '-')}precision")
            types[side] = (f"--{p.replace('_', '-')}precision", text, modes)
        options.update({f"{p}width": fmt.width, f"{p}frac": fmt.frac,
                        f"{p}signed": fmt.signed})
    # The output takes the input's format unless told otherwise, and so its type's modes.
    output_type = types.get("output") or (types.get("input") if not any(
        k in options for k in ("out_width", "out_frac", "out_signed")) else None)
    if output_type is not None:
        option, text, modes = output_type
        for name, mode, default, resolve in (
                ("rounding", modes[0], "floor", specmod.rounding_mode),
                ("overflow", modes[1], "wrap", specmod.overflow_mode)):
            asked = options.get(name)
            if mode is None:
                options.setdefault(name, default)
            elif asked is not None and resolve(asked) != mode:
                raise ValueError(f"--{name} {asked} contradicts {option} {text}, whose mode "
                                 f"is {mode}; give one of them")
            else:
                options[name] = mode
    return options


def _read_config(path):
    try:
        table = read_toml(path)
    except ValueError as e:
        raise UsageError(f"--config: {e}") from None
    known = set(spec_dests())
    options, keys = {}, {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in known:
            raise UsageError(f"--config {path}: unknown key {key!r}; keys are the options "
                             f"without '--', e.g. 'kind' or 'out-width'")
        if name in keys:
            raise UsageError(f"--config {path}: {keys[name]!r} and {key!r} are the same "
                             f"option; give it once")
        keys[name] = key
        options[name] = value
    return options
