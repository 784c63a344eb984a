# SPDX-License-Identifier: Apache-2.0
"""The block against the model it comes from: one activation node of a quantized ONNX model,
run four ways on the same input codes.

1. **The float node**, alone, in onnxruntime, on the dequantized inputs.
2. **The quantized reference**: for a QDQ graph, DequantizeLinear, the node and QuantizeLinear
   in onnxruntime; for a QONNX graph (whose Quant nodes onnxruntime cannot run), the float
   node's output quantized by QONNX's Quant as its specification defines it (divide by the
   scale, clamp to the integer range, round by ``rounding_mode``).
3. **The golden model** of the configuration.
4. **The hardware**: the configuration's Verilog, compiled by Verilator, every beat at full
   rate.

The hardware must equal the golden model everywhere, and the quantized reference everywhere
except where the model's own float32 arithmetic moved the value: the float node computes in
float32 (``x * alpha`` rounded to float32) before it quantizes, while the block computes
exactly. Where that rounding lands the value exactly on a point where the output rounding
decides (a tie for a to-nearest mode, a grid point for a directed one) and the exact value is
not there, the two round apart. Such codes are counted, listed with the input, the exact
value, the float32 value and both outputs, and classified; any other difference fails.
"""

import io
import json
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import onnx as onnx_model
from .files import write_files
from .golden import exact_values, golden
from .sim.stimulus import Stimulus, edge_codes
from .sim.verilator import build_model
from .spec import ROUNDING_MODES, Spec, round_quotient
from .tools import ToolError

__all__ = ["CompareResult", "compare", "input_codes", "qonnx_quant", "write_outputs"]

#: Differing codes listed in reports, at most.
LIST_LIMIT = 50
#: The classes a difference between hardware and quantized reference can have.
CLASSES = {
    "float32 tie": "the float32 value lies exactly on a tie of the output grid, where the "
                   "exact value does not, and the tie rule resolves it the other way",
    "float32 grid point": "the float32 value lies exactly on an output grid point, where the "
                          "exact value does not, so the directed rounding keeps it there",
    "unexplained": "a difference the model's float32 arithmetic does not explain",
}


def input_codes(fmt, samples=None, seed=0, spec=None):
    """Input codes of format ``fmt`` to compare on: every code when ``samples`` is ``None`` or
    reaches the number of codes; otherwise ``samples`` codes drawn at random (seeded), plus the
    edge codes of ``spec`` (or of the format), sorted and without repeats."""
    count = fmt.max_code - fmt.min_code + 1
    if samples is None or samples >= count:
        return np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"Sample count must be a positive integer, not {samples!r}")
    rng = np.random.default_rng(seed)
    drawn = rng.integers(fmt.min_code, fmt.max_code, size=samples, endpoint=True)
    edges = edge_codes(spec) if spec is not None else [fmt.min_code, 0, fmt.max_code]
    return np.unique(np.concatenate([drawn, np.array(edges, dtype=np.int64)]))


def qonnx_quant(x, scale, bits, signed, narrow, rounding_mode):
    """QONNX ``Quant`` (``IntQuant``) with zero point 0, as its specification defines it, on
    float values ``x``: the integer codes (int64). ``x / scale`` is clamped to the integer
    range (``narrow`` drops the most negative code of a signed range, the top code of an
    unsigned one) and rounded by ``rounding_mode``: ROUND and HALF_EVEN ties to even, CEIL,
    FLOOR, UP (away from zero), DOWN (toward zero), HALF_UP (ties away from zero), HALF_DOWN
    (ties toward zero)."""
    y = np.asarray(x, dtype=np.float64) / float(scale)
    if signed:
        lo, hi = -(1 << (bits - 1)) + bool(narrow), (1 << (bits - 1)) - 1
    else:
        lo, hi = 0, (1 << bits) - 1 - bool(narrow)
    y = np.clip(y, lo, hi)
    sign, mag = np.sign(y), np.abs(y)
    rule = {
        "ROUND": np.round, "HALF_EVEN": np.round, "CEIL": np.ceil, "FLOOR": np.floor,
        "UP": lambda v: sign * np.ceil(mag), "DOWN": np.trunc,
        "HALF_UP": lambda v: sign * np.floor(mag + 0.5),
        "HALF_DOWN": lambda v: sign * np.ceil(mag - 0.5),
    }.get(rounding_mode.upper())
    if rule is None:
        raise ValueError(f"QONNX rounding mode must be one of ROUND, HALF_EVEN, CEIL, FLOOR, "
                         f"UP, DOWN, HALF_UP, HALF_DOWN, not {rounding_mode!r}")
    return rule(y).astype(np.int64)


def _tensor_type(fmt):
    from onnx import TensorProto
    return getattr(TensorProto, f"{'' if fmt.signed else 'U'}INT{fmt.width}")


def _sub_model(model, nodes, x_name, x_type, y_name, y_type):
    """A model of ``nodes`` (copied) taking graph input ``x_name`` and giving ``y_name``, with
    every initializer and Constant they read."""
    from onnx import helper
    wanted = {name for node in nodes for name in node.input}
    inits = [t for t in model.graph.initializer if t.name in wanted]
    constants = [n for n in model.graph.node if n.op_type == "Constant"
                 and n.output[0] in wanted]
    graph = helper.make_graph(
        [*constants, *nodes], "relu_hw_compare",
        [helper.make_tensor_value_info(x_name, x_type, None)],
        [helper.make_tensor_value_info(y_name, y_type, None)], inits)
    sub = helper.make_model(graph, opset_imports=[o for o in model.opset_import
                                                  if o.domain in ("", "ai.onnx")])
    sub.ir_version = model.ir_version
    return sub


def _run(model, x):
    try:
        import onnxruntime
    except ImportError:
        raise ToolError("onnxruntime", 127, 'comparing with a model needs onnxruntime: pip '
                                            'install "relu-hw[onnx]"') from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(model.SerializeToString(), options,
                                           providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return session.run(None, {name: x})[0]


def _renamed(node, inputs=None):
    import onnx
    copy = onnx.NodeProto()
    copy.CopyFrom(node)
    for i, name in (inputs or {}).items():
        copy.input[i] = name
    return copy


def _round_fraction(v, rounding):
    """A Fraction with a power-of-two denominator rounded to an integer by ``rounding``."""
    k = v.denominator.bit_length() - 1
    return round_quotient(v.numerator, k, rounding)


def _on_boundary(t, rounding):
    """Whether ``t`` (in output steps) lies where ``rounding`` decides by its rule: a tie of
    a to-nearest rule, a grid point of a directed one."""
    rule = ROUNDING_MODES[rounding]
    return (t - (t.numerator // t.denominator)) == (Fraction(1, 2) if rule.nearest else 0)


@dataclass
class CompareResult:
    """The outcome of :func:`compare`: everything the reports hold."""
    spec: Spec
    node: str
    op: str
    style: str                  # "qdq" or "qonnx"
    codes: np.ndarray           # input codes, one per sample
    channels: int               # channels of the tensor (1 unless PRelu per channel)
    float_out: np.ndarray       # (samples, channels) float32 outputs of the float node
    reference: np.ndarray       # (samples, channels) codes of the quantized reference
    hardware: np.ndarray        # (samples, lanes) codes of the hardware
    expected: np.ndarray        # (samples, lanes) codes of the golden model
    differences: list = field(default_factory=list)     # dicts, one per differing code
    golden_mismatches: int = 0

    @property
    def lane_channel(self):
        return np.arange(self.spec.lanes) % self.channels

    @property
    def per_channel(self):
        """The hardware's codes, ``(samples, channels)``: the first lane of each channel (the
        golden model checks every lane)."""
        return self.hardware[:, :self.channels]

    @property
    def counts(self):
        found = {name: 0 for name in CLASSES}
        for d in self.differences:
            found[d["class"]] += 1
        return found

    @property
    def bit_exact(self):
        return not self.differences

    @property
    def passed(self):
        return self.golden_mismatches == 0 and self.counts["unexplained"] == 0

    def float_error(self):
        """Hardware against the float node: max and RMS absolute error, and the largest in
        output steps."""
        step = 2.0 ** -self.spec.out_frac
        err = self.per_channel * step - self.float_out.astype(np.float64)
        return {"max_abs": float(np.max(np.abs(err))), "rms": float(np.sqrt(np.mean(err ** 2))),
                "max_steps": float(np.max(np.abs(err)) / step), "step": step}

    def as_dict(self):
        spec = self.spec
        return {
            "node": self.node, "op": self.op, "quantizers": self.style,
            "configuration": spec.options(),
            "input_format": str(spec.input_format), "output_format": str(spec.output_format),
            "samples": len(self.codes), "channels": self.channels, "lanes": spec.lanes,
            "compared": len(self.codes) * self.channels,
            "hardware_vs_golden": {"mismatches": self.golden_mismatches},
            "hardware_vs_quantized_reference": {
                "bit_exact": self.bit_exact, "differing": len(self.differences),
                "by_class": self.counts, "classes": CLASSES,
                "differences": self.differences[:LIST_LIMIT]},
            "hardware_vs_float": self.float_error(),
            "passed": self.passed,
        }

    def markdown(self):
        d, spec = self.as_dict(), self.spec
        vs_ref = d["hardware_vs_quantized_reference"]
        err = d["hardware_vs_float"]
        verdict = ("bit-exact" if self.bit_exact else
                   f"{vs_ref['differing']} of {d['compared']} codes differ")
        lines = [
            f"# {self.node} ({self.op}): hardware against the model", "",
            f"{spec.kind}, {spec.input_format} -> {spec.output_format}, rounding "
            f"{spec.rounding}, overflow {spec.overflow}, {spec.lanes} lane(s); "
            f"{d['samples']} input codes x {self.channels} channel(s), quantizers {self.style}.",
            "",
            "| check | result |", "|---|---|",
            f"| hardware vs golden model | {self.golden_mismatches} mismatches |",
            f"| hardware vs quantized reference | {verdict} |",
        ]
        for name, n in vs_ref["by_class"].items():
            if n:
                lines.append(f"| of which {name} | {n} |")
        lines += [
            f"| hardware vs float: max abs error | {err['max_abs']:.6g} "
            f"({err['max_steps']:.3g} output steps of {err['step']:.6g}) |",
            f"| hardware vs float: RMS error | {err['rms']:.6g} |",
            f"| verdict | {'PASS' if self.passed else 'FAIL'} |", "",
        ]
        if self.differences:
            lines += ["## Differences from the quantized reference", "",
                      "| input code | input | channel | exact value | float32 value | "
                      "reference | hardware | class |", "|---:|---:|---:|---:|---:|---:|---:|---|"]
            for x in self.differences[:LIST_LIMIT]:
                exact = f"{x['exact']} (~{float(Fraction(x['exact'])):.10g})"
                lines.append(f"| {x['input_code']} | {x['input']} | {x['channel']} | "
                             f"{exact} | {x['float32']} | {x['reference']} | "
                             f"{x['hardware']} | {x['class']} |")
            if len(self.differences) > LIST_LIMIT:
                lines.append(f"\n{len(self.differences) - LIST_LIMIT} more in the JSON report's "
                             f"count, not listed.")
            lines.append("")
            for name, text in CLASSES.items():
                if self.counts[name]:
                    lines.append(f"- **{name}**: {text}.")
            lines.append("")
        return "\n".join(lines)

    def png(self):
        """The transfer curve (float node and hardware against the input) and the histogram
        of the hardware's error against the float node, in output steps, as PNG bytes."""
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        spec = self.spec
        x = self.codes / 2.0 ** spec.frac
        step = 2.0 ** -spec.out_frac
        fig = Figure(figsize=(11, 4.5))
        curve, hist = fig.subplots(1, 2)
        for c in range(self.channels):
            label = f" ch{c}" if self.channels > 1 else ""
            curve.plot(x, self.float_out[:, c], lw=1, label=f"float node{label}")
            curve.plot(x, self.per_channel[:, c] * step, ".", ms=2.5, label=f"hardware{label}")
        for i, d in enumerate(self.differences[:LIST_LIMIT]):
            curve.plot(float(Fraction(d["input"])), d["hardware"] * step, "o", mfc="none",
                       color="red", ms=7, label="differs from the reference" if i == 0 else None)
        curve.set_xlabel(f"input ({spec.input_format})")
        curve.set_ylabel(f"output ({spec.output_format})")
        curve.set_title(f"{self.node} ({self.op}): transfer curve")
        curve.grid(True, alpha=0.3)
        curve.legend(fontsize="small")
        err = (self.per_channel * step - self.float_out) / step
        hist.hist(err.ravel(), bins=41)
        hist.set_xlabel("hardware - float node (output steps)")
        hist.set_ylabel("codes")
        hist.set_title("error against the float node")
        hist.grid(True, alpha=0.3)
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def compare(spec, model, node, inputs=None, samples=None, seed=0):
    """Compare the block of ``spec`` with activation ``node`` of the ONNX ``model`` (a path or
    a loaded model) on the same input codes; return a :class:`CompareResult`.

    ``inputs`` (an integer array of input codes, or floats on the input grid) or ``samples``
    (see :func:`input_codes`; ``None``: every code) choose the inputs. Each channel of a
    per-channel PRelu sees the same codes. The configuration's input format must be the
    model's.
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
    act, loaded = onnx_model.find(model, node)
    if act.quantizers[0] is None or act.quantizers[1] is None:
        raise ValueError(f"Node {node!r} cannot be compared: {act.reason}")
    fin_q, fout_q = act.quantizers
    if fin_q.format != spec.input_format:
        raise ValueError(f"The configuration's input format {spec.input_format} is not the "
                         f"model's, {fin_q.format}, at node {node!r}")
    for q in act.quantizers:
        if q.style == "qdq" and q.format.width not in (8, 16):
            raise ValueError(f"Node {node!r} has a {q.format.width}-bit QDQ quantizer; compare "
                             f"runs QDQ graphs of 8- and 16-bit types in onnxruntime")
    codes = _codes(spec, inputs, samples, seed)
    channels = act.channels
    if channels > 1:
        if spec.lanes % channels:
            raise ValueError(f"Node {node!r} has {channels} channels, which do not fill the "
                             f"configuration's {spec.lanes} lanes evenly")
    shape = (len(codes), channels) + (1,) * (-(act.channel_axis or -1) - 1)
    tensor = np.broadcast_to(codes.reshape((-1,) + (1,) * (len(shape) - 1)), shape)

    from onnx import TensorProto
    scale_in = 2.0 ** -fin_q.format.frac
    x_float = (tensor * scale_in).astype(np.float32)
    act_node = _renamed(act.node, {0: "relu_hw_x"})
    float_model = _sub_model(loaded, [act_node], "relu_hw_x", TensorProto.FLOAT,
                             act.node.output[0], TensorProto.FLOAT)
    float_out = _run(float_model, x_float).reshape(len(codes), channels)
    if fin_q.style == "qdq" and fout_q.style == "qdq":
        # The QDQ graph itself: DequantizeLinear, the node, QuantizeLinear.
        dq = _renamed(fin_q.node, {0: "relu_hw_x"})
        act_node = _renamed(act.node, {0: fin_q.node.output[0]})
        ref_model = _sub_model(loaded, [dq, act_node, fout_q.node], "relu_hw_x",
                               _tensor_type(fin_q.format), fout_q.node.output[0],
                               _tensor_type(fout_q.format))
        reference = _run(ref_model, tensor.astype(_numpy_type(fin_q.format)))
    elif fout_q.style == "qdq":
        # A QONNX input quantizer gives the dequantized values themselves.
        act_node = _renamed(act.node, {0: "relu_hw_x"})
        ref_model = _sub_model(loaded, [act_node, fout_q.node], "relu_hw_x",
                               TensorProto.FLOAT, fout_q.node.output[0],
                               _tensor_type(fout_q.format))
        reference = _run(ref_model, x_float)
    else:
        mode = onnx_model.attributes(fout_q.node).get("rounding_mode", "ROUND")
        mode = mode.decode() if isinstance(mode, bytes) else mode
        reference = qonnx_quant(float_out, 2.0 ** -fout_q.format.frac, fout_q.format.width,
                                fout_q.format.signed, fout_q.narrow, mode)
    style = fin_q.style if fin_q.style == fout_q.style else f"{fin_q.style}+{fout_q.style}"
    reference = np.asarray(reference).astype(np.int64).reshape(len(codes), channels)

    beats = np.repeat(codes[:, None], spec.lanes, axis=1)
    expected = golden(spec, beats)
    ones = np.ones(1, dtype=bool)
    stim = Stimulus(beats, np.zeros(len(codes), dtype=bool), np.zeros(len(codes), np.uint64),
                    ones, ones)
    trace = build_model(spec).run(stim)
    hardware = np.asarray(trace.data, dtype=np.int64)
    if hardware.shape != expected.shape:
        raise RuntimeError(f"The hardware gave {len(hardware)} beats for {len(expected)}")

    result = CompareResult(spec, act.name, act.op, style, codes, channels, float_out,
                           reference, hardware, expected,
                           golden_mismatches=int(np.sum(hardware != expected)))
    result.differences = _differences(result, beats)
    return result


def _numpy_type(fmt):
    bits = 8 if fmt.width <= 8 else 16 if fmt.width <= 16 else 32
    return np.dtype(f"{'i' if fmt.signed else 'u'}{bits // 8}")


def _codes(spec, inputs, samples, seed):
    fmt = spec.input_format
    if inputs is None:
        return input_codes(fmt, samples, seed, spec)
    x = np.asarray(inputs).ravel()
    if x.dtype.kind == "f":
        scaled = x * 2.0 ** fmt.frac
        if not np.all(np.isfinite(scaled)) or np.any(scaled != np.round(scaled)):
            raise ValueError(f"Input values must lie on the input grid (multiples of "
                             f"2^-{fmt.frac}), or be integer codes")
        x = scaled.astype(np.int64)
    elif x.dtype.kind not in "iu":
        raise TypeError(f"Inputs must be integer codes or floats, not an array of {x.dtype}")
    x = x.astype(np.int64)
    if x.size == 0:
        raise ValueError("Inputs must hold at least one code")
    if x.min() < fmt.min_code or x.max() > fmt.max_code:
        raise ValueError(f"Input codes must lie in [{fmt.min_code}, {fmt.max_code}] "
                         f"({fmt}), not [{x.min()}, {x.max()}]")
    return x


def _differences(result, beats):
    """Every code where the hardware differs from the quantized reference, classified."""
    spec = result.spec
    lanes = result.lane_channel
    ref = result.reference[:, lanes]
    where = np.argwhere(result.hardware != ref)
    if not len(where):
        return []
    a, e = exact_values(spec, beats)
    out_step = Fraction(1, 1 << spec.out_frac)
    seen, found = set(), []
    lo, hi = spec.output_range
    for m, lane in where:
        channel = int(lanes[lane])
        if (int(m), channel) in seen:
            continue
        seen.add((int(m), channel))
        exact = Fraction(int(a[m, lane]), 1 << e)
        f32 = Fraction(float(result.float_out[m, channel]))
        t_exact, t_float = exact / out_step, f32 / out_step
        hw, reference = int(result.hardware[m, lane]), int(ref[m, lane])
        from_float = _round_fraction(t_float, spec.rounding)
        inside = lo <= from_float <= hi
        explained = (inside and reference == from_float and hw == int(result.expected[m, lane])
                     and f32 != exact and _on_boundary(t_float, spec.rounding)
                     and not _on_boundary(t_exact, spec.rounding))
        kind = "unexplained"
        if explained:
            kind = "float32 tie" if ROUNDING_MODES[spec.rounding].nearest else \
                "float32 grid point"
        code = int(result.codes[m])
        found.append({"input_code": code, "input": str(Fraction(code, 1 << spec.frac)),
                      "channel": channel, "exact": str(exact), "float32": str(f32),
                      "float32_decimal": repr(float(result.float_out[m, channel])),
                      "reference": reference, "hardware": hw, "class": kind})
    return found


def write_outputs(result, outdir):
    """Write ``<node>.compare.json``, ``.md`` and ``.png`` into ``outdir``; the paths."""
    stem = f"{result.spec.name}.compare"
    return write_files(outdir, {
        f"{stem}.json": json.dumps(result.as_dict(), indent=2) + "\n",
        f"{stem}.md": result.markdown(),
        f"{stem}.png": result.png(),
    })
