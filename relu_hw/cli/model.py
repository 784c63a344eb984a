# SPDX-License-Identifier: Apache-2.0
"""``relu-hw import`` and ``relu-hw compare``: from a quantized ONNX model to blocks, and a
block against its model."""

import json
from pathlib import Path

import numpy as np

from .. import onnx as onnx_model
from ..compare import compare, write_outputs
from ..files import check_folder, write_files
from ..spec import MAX_LANES, MAX_SLOPE_FRAC
from ..sim.verilator import model_cache
from .options import UsageError, check_output, spec_from_args

__all__ = ["register"]


def register(subparsers, common, spec_options):
    """Add ``import`` and ``compare`` to ``subparsers``."""
    p = subparsers.add_parser(
        "import", parents=[common], help="read a quantized ONNX model's activations",
        description="Find every activation node of a quantized ONNX model (Relu, LeakyRelu, "
                    "PRelu, ThresholdedRelu, Clip with min 0), take its formats from the QDQ "
                    "pair or QONNX Quant nodes around it (power-of-two scales, zero point 0) "
                    "and its constants exactly as the model stores them, write one "
                    "<node>.toml per node that --config takes, and print a table. A node that "
                    "cannot be mapped exactly is listed with the reason, never approximated. "
                    "Needs the onnx package (pip install \"relu-hw[onnx]\"). Exit status 1 if "
                    "some node could not be mapped.")
    p.add_argument("model", type=Path, metavar="MODEL.onnx", help="the model")
    p.add_argument("-o", "--output", type=Path, default=Path("build") / "import",
                   metavar="DIR", help="output folder (default build/import)")
    p.add_argument("--lanes", type=int, default=None,
                   help="lanes of each block (default 1, or a per-channel PRelu's channel "
                        "count; a PRelu needs a multiple of its channel count)")
    p.add_argument("--slope-frac", type=int, default=None, metavar="BITS",
                   help="fractional bits of slopes (default: as many as the model's float32 "
                        "slope needs to be exact, e.g. 27 for 0.1f); the TOML records the "
                        "choice")
    p.set_defaults(handler=cmd_import)

    p = subparsers.add_parser(
        "compare", parents=[common, spec_options],
        help="compare a block with its node in the ONNX model",
        description="Run one activation node of a quantized ONNX model four ways on the same "
                    "input codes: the float node in onnxruntime, the quantized reference (the "
                    "QDQ graph in onnxruntime, or QONNX's Quant as its specification defines "
                    "it), the golden model, and the configuration's hardware on Verilator. "
                    "Report the hardware against the quantized reference (bit-exact or not, "
                    "every difference with its input, exact value, float32 value and both "
                    "outputs) and against the float node (max, RMS and output-step errors), "
                    "as JSON, Markdown and a PNG. Exit status 1 if the hardware differs from "
                    "the golden model, or from the reference other than where the model's "
                    "float32 arithmetic lands exactly on a rounding tie or grid point.")
    p.add_argument("--onnx", type=Path, required=True, metavar="MODEL.onnx", help="the model")
    p.add_argument("--node", required=True, metavar="NAME",
                   help="the activation node (its ONNX name, or the name import gave it)")
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument("--inputs", type=Path, metavar="X.npy",
                        help="input codes (integers) or values on the input grid (floats)")
    inputs.add_argument("--samples", type=int, metavar="N",
                        help="N random input codes plus the edge codes; every code when N "
                             "reaches their number (default: every code)")
    p.add_argument("--seed", type=int, default=0, help="seed of --samples (default 0)")
    p.add_argument("-o", "--output", type=Path, default=Path("build") / "compare",
                   metavar="DIR", help="output folder (default build/compare)")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON on standard output")
    p.set_defaults(handler=cmd_compare)


def _constants(act):
    return onnx_model.describe_constants(act)


def cmd_import(args):
    if args.lanes is not None and not 1 <= args.lanes <= MAX_LANES:
        raise UsageError(f"--lanes must be an integer from 1 to {MAX_LANES}, not {args.lanes}")
    if args.slope_frac is not None and not 0 <= args.slope_frac <= MAX_SLOPE_FRAC:
        raise UsageError(f"--slope-frac must be an integer from 0 to {MAX_SLOPE_FRAC}, not "
                         f"{args.slope_frac}")
    check_output(args.output, "-o")
    try:
        found = onnx_model.read(args.model, args.lanes, args.slope_frac)
    except ValueError as e:
        raise UsageError(str(e)) from None
    if not found:
        print(f"{args.model}: no activation node (Relu, LeakyRelu, PRelu, ThresholdedRelu, "
              f"Clip)")
        return 1
    files = {f"{a.spec.name}.toml": onnx_model.to_toml(a, args.model)
             for a in found if a.spec is not None}
    written = {p.name: p for p in (write_files(args.output, files) if files else [])}
    rows = [("node", "op", "kind", "formats", "constants", "file")]
    for a in found:
        if a.spec is None:
            rows.append((a.name, a.op, a.kind, "-", _constants(a), f"not mapped: {a.reason}"))
            continue
        spec = a.spec
        formats = (f"{spec.input_format} -> {spec.output_format}, {spec.rounding}, "
                   f"{spec.overflow}, {spec.lanes} lane(s)")
        rows.append((a.name, a.op, spec.kind, formats, _constants(a),
                     str(written[f"{spec.name}.toml"])))
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(row) + " |")
    unmapped = sum(a.spec is None for a in found)
    if unmapped:
        print(f"{unmapped} of {len(found)} activation node(s) not mapped")
    return 1 if unmapped else 0


def cmd_compare(args):
    spec = spec_from_args(args)
    if args.samples is not None and args.samples < 1:
        raise UsageError(f"--samples must be a positive integer, not {args.samples}")
    if args.seed < 0:
        raise UsageError(f"--seed must be a non-negative integer, not {args.seed}")
    inputs = None
    if args.inputs is not None:
        try:
            inputs = np.load(args.inputs, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise UsageError(f"--inputs {args.inputs}: {e}") from None
    check_output(args.output, "-o")
    try:
        check_folder(model_cache())
    except ValueError as e:
        raise UsageError(f"the Verilator model cache (set RELU_HW_CACHE to move it): "
                         f"{e}") from None
    try:
        result = compare(spec, args.onnx, args.node, inputs=inputs, samples=args.samples,
                         seed=args.seed)
    except (TypeError, ValueError) as e:
        raise UsageError(str(e)) from None
    written = write_outputs(result, args.output)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.markdown(), end="")
        for path in written:
            print(f"wrote {path}")
    return 0 if result.passed else 1
