# SPDX-License-Identifier: Apache-2.0
"""Activations of a quantized ONNX model, as blocks: :func:`read` finds every ReLU-family node
and, where the block can compute exactly what the model computes, the :class:`~.spec.Spec`
that does; otherwise the reason it cannot.

What is read
------------
* Nodes ``Relu``, ``LeakyRelu``, ``PRelu``, ``ThresholdedRelu``, and ``Clip`` with min 0
  (ReLU6 and the like).
* Their formats, from the quantizers around them: a ``DequantizeLinear`` feeding the node and a
  ``QuantizeLinear`` taking its output (a QDQ graph; QuantizeLinear rounds ties to even, then
  saturates), or QONNX ``Quant``/``IntQuant`` nodes (domain ``qonnx.custom_op.general``;
  inputs scale, zero point, bit width; attributes ``signed``, ``narrow``, ``rounding_mode``).
  Scales must be powers of two (a scale ``2**-f`` is ``f`` fractional bits) and zero points 0.
* Constants exactly as the model stores them. A float32 is a dyadic rational: 0.1f is
  13421773 / 2**27, so a LeakyRelu slope of 0.1 becomes that slope with 27 fractional bits
  and the hardware multiplies by the graph's own constant (``slope_frac`` overrides this).
  An omitted attribute takes the operator schema's default (``onnx.defs.get_schema``).
* A per-channel ``PRelu`` slope (shape ``(C, 1, 1)`` for NCHW input) becomes one slope per
  lane; the lane count must be a multiple of ``C``, lane ``k`` taking channel ``k mod C``.

Nothing is approximated: a node that does not map exactly is reported with its reason.

The ``onnx`` package is optional (``pip install "relu-hw[onnx]"``); it is imported by the
functions that need it.
"""

import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from .spec import (HDL_KEYWORDS, MAX_LANES, MAX_SLOPE_FRAC, FixedFormat, Spec, round_quotient,
                   rounding_mode)
from .tools import ToolError

__all__ = ["ACTIVATIONS", "Quantizer", "Activation", "read", "find", "to_toml", "load",
           "attributes", "describe_constants", "QONNX_DOMAINS"]

#: ONNX operators read as activations, and the kind each becomes.
ACTIVATIONS = {"Relu": "relu", "LeakyRelu": "leaky_relu", "PRelu": "prelu",
               "ThresholdedRelu": "thresholded_relu", "Clip": "relu"}
#: Domains of QONNX's quantizer (FINN's older name included).
QONNX_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general")
_QONNX_OPS = ("Quant", "IntQuant")
#: ONNX integer tensor types a QDQ pair may use: (bits, signed).
_INT_TYPES = {"INT8": (8, True), "UINT8": (8, False), "INT16": (16, True),
              "UINT16": (16, False), "INT4": (4, True), "UINT4": (4, False),
              "INT2": (2, True), "UINT2": (2, False), "INT32": (32, True), "UINT32": (32, False)}


class Unmappable(ValueError):
    """A node the block cannot compute exactly; the message says why."""


def load(path):
    """The ONNX model at ``path``; :exc:`ValueError` if it cannot be read, and
    :exc:`~relu_hw.tools.ToolError` without the ``onnx`` package."""
    try:
        import onnx
    except ImportError:
        raise ToolError("onnx", 127, 'reading ONNX models needs the onnx package: pip install '
                                     '"relu-hw[onnx]"') from None
    if not Path(path).is_file():
        raise ValueError(f"Cannot read the ONNX model {str(path)!r}: no such file")
    try:
        return onnx.load(str(path))
    except Exception as e:      # protobuf's decode errors have no common base worth naming
        raise ValueError(f"Cannot read the ONNX model {str(path)!r}: {e}") from None


@dataclass
class Quantizer:
    """A quantizer around an activation: ``node`` (the ONNX node), ``style`` (``"qdq"`` or
    ``"qonnx"``), the format, and for an output quantizer the rounding and overflow it
    applies."""
    node: object
    style: str
    format: FixedFormat
    rounding: str | None = None
    overflow: str | None = None
    narrow: bool = False


@dataclass
class Activation:
    """One activation node: ``name``, ``op`` (its ONNX operator), and either ``spec`` (the
    block that computes it exactly) or ``reason`` (why there is none). ``details`` describes
    the constants as the model stores them; ``quantizers`` are the input and output
    quantizers when found."""
    name: str
    op: str
    spec: Spec | None = None
    reason: str | None = None
    details: dict = field(default_factory=dict)
    quantizers: tuple = (None, None)
    node: object = None
    channel_axis: int | None = None     # PRelu: the input axis its slopes vary along,
    channels: int = 1                   # counted from the end, and their count

    @property
    def kind(self):
        return self.spec.kind if self.spec is not None else ACTIVATIONS.get(self.op, "?")


class _Graph:
    """Producers, consumers and constants of a model's main graph."""

    def __init__(self, model):
        from onnx import numpy_helper
        self.model = model
        graph = model.graph
        self.constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.producer, self.consumers = {}, {}
        for node in graph.node:
            for name in node.output:
                self.producer[name] = node
            for name in node.input:
                if name:
                    self.consumers.setdefault(name, []).append(node)
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                for attr in node.attribute:
                    if attr.name == "value":
                        self.constants[node.output[0]] = numpy_helper.to_array(attr.t)
        self.types = {}
        for info in (*graph.input, *graph.value_info, *graph.output):
            if info.type.HasField("tensor_type"):
                self.types[info.name] = info.type.tensor_type.elem_type
        self.initializer_types = {t.name: t.data_type for t in graph.initializer}

    def constant(self, name, what):
        if name not in self.constants:
            raise Unmappable(f"its {what} is not a constant of the graph")
        return self.constants[name]

    def elem_type(self, name):
        """The ONNX element type name of tensor ``name``, or None."""
        import onnx
        t = self.initializer_types.get(name, self.types.get(name))
        return None if t is None else onnx.TensorProto.DataType.Name(t)


def attributes(node):
    """A node's attributes with the schema's defaults for those omitted."""
    import onnx
    from onnx import defs, helper
    values = {}
    if node.domain in ("", "ai.onnx"):
        try:
            schema = defs.get_schema(node.op_type)
        except onnx.defs.SchemaError:
            schema = None
        if schema is not None:
            for name, attr in schema.attributes.items():
                if attr.default_value.name:
                    values[name] = helper.get_attribute_value(attr.default_value)
    for attr in node.attribute:
        values[attr.name] = helper.get_attribute_value(attr)
    return values


def _float32(value):
    """The exact value of a float32 (or any float) as a Fraction."""
    return Fraction(float(np.float32(value)))


def _frac_bits(value, what):
    """``f`` where ``value`` (a float) is ``2**-f``."""
    v = _float32(value)
    n, d = v.numerator, v.denominator
    if v <= 0 or (n != 1 and d != 1) or n & (n - 1) or d & (d - 1):
        raise Unmappable(f"its {what} {float(v)!r} is not a power of two")
    return (d.bit_length() - 1) - (n.bit_length() - 1)


def _per_tensor(array, what):
    """The one value of an array whose elements all agree."""
    flat = np.asarray(array).ravel()
    if flat.size == 0:
        raise Unmappable(f"its {what} is empty")
    if np.any(flat != flat[0]):
        raise Unmappable(f"its {what} differs along an axis (per-channel quantization)")
    return flat[0]


def _format(bits, signed, frac, what):
    if not 2 <= bits <= 32:
        raise Unmappable(f"its {what} is {bits} bits wide; widths are 2 to 32")
    if not 0 <= frac <= bits:
        raise Unmappable(f"its {what} has scale 2^{-frac}: {frac} fractional bits of {bits}, "
                         f"where the block takes 0 to {bits}")
    return FixedFormat(bits, frac, signed)


def _qdq(graph, node, side):
    """The format of a DequantizeLinear (input side) or QuantizeLinear (output side)."""
    what = f"{side} quantizer {node.name or node.op_type}"
    attrs = attributes(node)
    if attrs.get("block_size"):
        raise Unmappable(f"its {what} is blocked (block_size)")
    scale = _per_tensor(graph.constant(node.input[1], f"{what}'s scale"), f"{what}'s scale")
    frac = _frac_bits(scale, f"{what}'s scale")
    zero_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
    dtype = None
    if zero_name is not None:
        zero = graph.constant(zero_name, f"{what}'s zero point")
        if np.any(np.asarray(zero) != 0):
            raise Unmappable(f"its {what} has a non-zero zero point "
                             f"{_per_tensor(zero, 'zero point')}")
        dtype = graph.elem_type(zero_name)
    if side == "output" and dtype is None and attrs.get("output_dtype"):
        import onnx
        dtype = onnx.TensorProto.DataType.Name(attrs["output_dtype"])
    if side == "input" and dtype is None:
        dtype = graph.elem_type(node.input[0])
    dtype = dtype or "UINT8"    # QuantizeLinear's output without a zero point
    if dtype not in _INT_TYPES:
        raise Unmappable(f"its {what} uses type {dtype}, not an integer type of 2 to 32 bits")
    bits, signed = _INT_TYPES[dtype]
    fmt = _format(bits, signed, frac, what)
    if side == "input":
        return Quantizer(node, "qdq", fmt)
    return Quantizer(node, "qdq", fmt, "half_even", "saturate")


def _quant(graph, node, side):
    """The format of a QONNX Quant/IntQuant node."""
    what = f"{side} quantizer {node.name or node.op_type}"
    attrs = {"signed": 1, "narrow": 0, "rounding_mode": "ROUND", **attributes(node)}
    if len(node.input) < 4:
        raise Unmappable(f"its {what} lacks scale, zero point or bit width")
    scale = _per_tensor(graph.constant(node.input[1], f"{what}'s scale"), f"{what}'s scale")
    zero = graph.constant(node.input[2], f"{what}'s zero point")
    if np.any(np.asarray(zero) != 0):
        raise Unmappable(f"its {what} has a non-zero zero point "
                         f"{_per_tensor(zero, 'zero point')}")
    bits = _per_tensor(graph.constant(node.input[3], f"{what}'s bit width"), "bit width")
    if float(bits) != int(bits):
        raise Unmappable(f"its {what} has a bit width of {float(bits)}, not an integer")
    signed, narrow = bool(attrs["signed"]), bool(attrs["narrow"])
    mode = attrs["rounding_mode"]
    mode = mode.decode() if isinstance(mode, bytes) else mode
    fmt = _format(int(bits), signed, _frac_bits(scale, f"{what}'s scale"), what)
    if side == "input":
        return Quantizer(node, "qonnx", fmt, narrow=narrow)
    try:
        rounding = rounding_mode(f"qonnx:{mode}")
    except ValueError:
        raise Unmappable(f"its {what} has rounding mode {mode!r}, which QONNX does not "
                         f"define") from None
    if narrow and not signed:
        raise Unmappable(f"its {what} is narrow and unsigned: codes 0 to 2^{fmt.width} - 2, "
                         f"which no overflow mode here gives")
    return Quantizer(node, "qonnx", fmt, rounding,
                     "saturate_symmetric" if narrow else "saturate", narrow)


def _is_quant(node):
    return node.op_type in _QONNX_OPS and node.domain in QONNX_DOMAINS


def _input_quantizer(graph, node):
    src = graph.producer.get(node.input[0])
    if src is not None and src.op_type == "DequantizeLinear":
        return _qdq(graph, src, "input")
    if src is not None and _is_quant(src):
        return _quant(graph, src, "input")
    raise Unmappable("no DequantizeLinear or QONNX Quant feeds it, so its input format is "
                     "unknown")


def _output_quantizer(graph, node):
    users = graph.consumers.get(node.output[0], [])
    quantizers = [n for n in users if n.op_type == "QuantizeLinear" or _is_quant(n)]
    if len(quantizers) != 1 or len(users) != 1:
        raise Unmappable("its output does not go to exactly one QuantizeLinear or QONNX Quant, "
                         "so its output format is unknown")
    q = quantizers[0]
    return _qdq(graph, q, "output") if q.op_type == "QuantizeLinear" else _quant(graph, q,
                                                                                 "output")


def _exact(value):
    """The exact value of a float32 constant as a string Fraction parses."""
    return str(_float32(value))


def _slope_bits(slopes, what):
    """Fractional bits that hold every slope exactly."""
    bits = max(s.denominator.bit_length() - 1 for s in slopes)
    if bits > MAX_SLOPE_FRAC:
        raise Unmappable(f"its {what} needs {bits} fractional bits to be exact, more than "
                         f"{MAX_SLOPE_FRAC}; give slope_frac to accept a rounded slope")
    return bits


def _rounded_on_grid(value, fmt, rounding):
    """``value`` rounded to the grid of ``fmt`` by ``rounding``, as a Fraction."""
    scaled = value * (1 << fmt.frac)
    # round_quotient takes n / 2**k; bring the Fraction to a power-of-two denominator.
    k = scaled.denominator.bit_length() - 1
    return Fraction(round_quotient(scaled.numerator, k, rounding), 1 << fmt.frac)


def _identifier(name, used):
    base = re.sub(r"[^A-Za-z0-9_]", "_", name) or "node"
    if not re.match(r"[A-Za-z_]", base):
        base = "n_" + base
    base = base[:120]
    if base in HDL_KEYWORDS:
        base += "_node"
    out, n = base, 1
    while out in used:
        n += 1
        out = f"{base}_{n}"
    used.add(out)
    return out


def _map(graph, node, lanes, slope_frac, name):
    """The :class:`Activation` of one node."""
    act = Activation(node.name or node.output[0], node.op_type, node=node)
    try:
        fin_q, fout_q = _input_quantizer(graph, node), _output_quantizer(graph, node)
        act.quantizers = (fin_q, fout_q)
        fin, fout = fin_q.format, fout_q.format
        options = dict(width=fin.width, frac=fin.frac, signed=fin.signed,
                       out_width=fout.width, out_frac=fout.frac, out_signed=fout.signed,
                       rounding=fout_q.rounding, overflow=fout_q.overflow, name=name,
                       lanes=lanes or 1)
        attrs = attributes(node)
        kind = ACTIVATIONS[node.op_type]
        options["kind"] = kind
        if node.op_type == "LeakyRelu":
            alpha = attrs.get("alpha", 0.01)
            act.details["alpha"] = float(np.float32(alpha))
            slope = _float32(alpha)
            options["slope"] = str(slope)
            options["slope_frac"] = (slope_frac if slope_frac is not None
                                     else _slope_bits([slope], f"alpha {float(slope)!r}"))
        elif node.op_type == "ThresholdedRelu":
            alpha = attrs.get("alpha", 1.0)
            act.details["alpha"] = float(np.float32(alpha))
            options["threshold"] = _exact(alpha)
        elif node.op_type == "Clip":
            low, high = _clip_bounds(graph, node, attrs)
            if low is None or low != 0:
                raise Unmappable(f"it is a Clip with min {'none' if low is None else float(low)}"
                                 f", not 0, so not a ReLU")
            act.details.update(min=0.0, max=None if high is None else float(high))
            if high is not None:
                if high < 0:
                    raise Unmappable(f"it is a Clip with max {float(high)} below its min 0")
                # Rounding is monotone: round(min(v, m)) = min(round(v), round(m)), so a clip
                # at m rounded onto the output grid gives what the model gives.
                options["max_value"] = str(_rounded_on_grid(high, fout, fout_q.rounding))
                act.details["max_on_output_grid"] = options["max_value"]
        elif node.op_type == "PRelu":
            slope = np.asarray(graph.constant(node.input[1], "slope"), dtype=np.float32)
            act.details["slope_shape"] = list(slope.shape)
            varying = [axis for axis, n in enumerate(slope.shape) if n > 1]
            if len(varying) > 1:
                raise Unmappable(f"its slope of shape {tuple(slope.shape)} varies along more "
                                 f"than one axis")
            values = [_float32(v) for v in slope.ravel()]
            bits = (slope_frac if slope_frac is not None
                    else _slope_bits(values, "slope"))
            if not varying:
                options.update(kind="leaky_relu", slope=str(values[0]), slope_frac=bits)
            else:
                channels = slope.shape[varying[0]]
                # The axis counted from the end, as unidirectional broadcasting aligns it.
                act.channel_axis = varying[0] - slope.ndim
                act.channels = channels
                count = lanes if lanes is not None else channels
                if count % channels or count > MAX_LANES:
                    raise Unmappable(f"its {channels} slopes, one per channel, do not fill "
                                     f"{count} lanes evenly; give a lane count that is a "
                                     f"multiple of {channels} (up to {MAX_LANES})")
                options.update(lanes=count, slope_frac=bits,
                               slopes=tuple(str(values[k % channels]) for k in range(count)))
        act.spec = Spec(**options)
    except Unmappable as e:
        act.reason = str(e)
    except ValueError as e:
        act.reason = f"it has no block: {e}"
    return act


def _clip_bounds(graph, node, attrs):
    """``(min, max)`` of a Clip as Fractions (None where absent)."""
    def bound(index, attr):
        if len(node.input) > index and node.input[index]:
            value = np.asarray(graph.constant(node.input[index], f"{attr} input"))
            return _float32(value.ravel()[0]) if value.size == 1 else None
        if attr in attrs:
            return _float32(attrs[attr])
        return None
    return bound(1, "min"), bound(2, "max")


def read(path, lanes=None, slope_frac=None):
    """Every activation node of the ONNX model at ``path``, in graph order, as
    :class:`Activation`: with a :class:`~.spec.Spec` that computes it exactly, or a reason.

    Parameters
    ----------
    path : path-like or ``onnx.ModelProto``
    lanes : int or None
        Lanes of each block; ``None`` means one, or a PRelu's channel count.
    slope_frac : int or None
        Fractional bits of slopes; ``None`` takes each slope exactly as the model stores it.
    """
    model = path if hasattr(path, "graph") else load(path)
    graph = _Graph(model)
    used, found = set(), []
    for node in model.graph.node:
        if node.op_type in ACTIVATIONS and node.domain in ("", "ai.onnx"):
            name = _identifier(node.name or node.output[0], used)
            found.append(_map(graph, node, lanes, slope_frac, name))
    return found


def find(path, node_name, lanes=None, slope_frac=None):
    """The :class:`Activation` named ``node_name`` in the model at ``path``, with its graph
    (``(activation, model)``); :exc:`ValueError` naming the activations there otherwise."""
    model = path if hasattr(path, "graph") else load(path)
    found = read(model, lanes, slope_frac)
    for act in found:
        if node_name in (act.name, act.spec.name if act.spec else None):
            return act, model
    names = ", ".join(repr(a.name) for a in found) or "none"
    raise ValueError(f"Node {node_name!r} is not an activation of the model; its activations "
                     f"are {names}")


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_toml(act, source):
    """The TOML file ``--config`` takes for activation ``act`` (which has a spec) of model
    ``source``: the options, and comments that say where they come from."""
    spec = act.spec
    lines = [f"# Imported by relu-hw from {Path(str(source)).name}, node {act.name!r} "
             f"({act.op})."]
    for key, value in act.details.items():
        lines.append(f"# {key}: {value}")
    if spec.lane_slopes is not None:
        if spec.slope_frac is not None and all(q.error == 0 for q in spec.lane_slopes):
            lines.append(f"# slope-frac {spec.slope_frac}: the model's float32 slopes, "
                         f"exactly.")
        else:
            lines.append(f"# slope-frac {spec.slope_frac}: chosen on import; the slopes are "
                         f"rounded (see the manifest's constants).")
    fin_q, fout_q = act.quantizers
    lines.append(f"# Formats from {fin_q.style} quantizers {fin_q.node.name!r} and "
                 f"{fout_q.node.name!r}.")
    options = {"kind": spec.kind, "in-format": str(spec.input_format).replace(" ", ""),
               "out-format": str(spec.output_format).replace(" ", ""),
               "rounding": spec.rounding, "overflow": spec.overflow, "lanes": spec.lanes}
    if spec.kind == "leaky_relu":
        options["slope"] = spec.slope
    if spec.kind == "prelu":
        options["slopes"] = list(spec.slopes)
    if spec.slope_frac is not None:
        options["slope-frac"] = spec.slope_frac
    if spec.threshold is not None:
        options["threshold"] = spec.threshold
    if spec.max_value is not None:
        options["max-value"] = spec.max_value
    options["name"] = spec.name
    lines += [f"{key} = {_toml_value(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def describe_constants(act):
    """The constants of an activation, in a few words, for tables."""
    spec = act.spec
    if spec is None:
        return ", ".join(f"{k} {v}" for k, v in act.details.items()) or "-"
    parts = []
    if spec.kind == "leaky_relu":
        parts.append(f"slope {spec.slope} ({spec.slope_frac} bits)")
    if spec.kind == "prelu":
        distinct = list(dict.fromkeys(spec.slopes))
        parts.append(f"slopes {', '.join(distinct)} ({spec.slope_frac} bits)")
    if spec.threshold is not None:
        parts.append(f"threshold {spec.threshold}")
    if spec.max_value is not None:
        parts.append(f"max {spec.max_value}")
    return ", ".join(parts) or "-"

