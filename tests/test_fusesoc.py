# SPDX-License-Identifier: Apache-2.0
"""The FuseSoC core: its sim target passes offline under FuseSoC with Icarus Verilog, and its
self-checking testbench fails on a wrong expectation or a broken design."""

import re
import subprocess
import sys

import numpy as np
import pytest

from relu_hw import __version__
from relu_hw.files import write_files
from relu_hw.fusesoc import FAIL, PASS, VECTOR_BEATS, core_files, vectors, vlnv
from relu_hw.generate import convert, to_verilog
from relu_hw.golden import golden
from relu_hw.sim.stimulus import edge_codes
from relu_hw.spec import Spec

from .mutants import MUTANTS, load_mutated

CLI = [sys.executable, "-m", "relu_hw"]
FUSESOC = [sys.executable, "-m", "fusesoc.main"]


def _fusesoc_sim(cores, cwd, *args):
    proc = subprocess.run([*FUSESOC, "--cores-root", str(cores), "run", "--target", "sim",
                           *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("options, name", [
    (["--kind", "leaky_relu", "--slope", "0.1", "--width", "8", "--frac", "4",
      "--user-width", "3", "--stages", "2"], "leaky_relu_axis"),
    (["--kind", "prelu", "--slopes=0.25,-3", "--lanes", "2", "--width", "12", "--frac", "4",
      "--out-width", "9", "--out-frac", "2", "--rounding", "half_even", "--ready",
      "combinational", "--name", "prelu_c"], "prelu_c"),
    # Control present and idle; per-channel slopes, four channels on two lanes.
    (["--kind", "prelu", "--slopes=0.25,-1.5,0.5,0", "--channels", "4", "--lanes", "2",
      "--width", "8", "--frac", "4", "--control", "axi-lite", "--runtime", "slope",
      "--name", "prelu_ctl"], "prelu_ctl"),
])
def test_sim_target_passes_offline(tmp_path, options, name):
    cores = tmp_path / "cores"
    proc = subprocess.run([*CLI, "generate", "-o", str(cores), *options], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    target = f"relu-hw:relu_hw:{name}:{__version__}"
    code, out = _fusesoc_sim(cores, tmp_path, target)
    assert code == 0, out
    assert re.search(rf"^{PASS}: {name}: {VECTOR_BEATS} output beats as expected$", out, re.M)
    assert "deprecated" not in out.lower()
    # The testbench's stall patterns are parameters of the core: at full rate it passes too.
    code, out = _fusesoc_sim(cores, tmp_path, target, "--VALID_PERCENT", "100",
                             "--READY_PERCENT", "100")
    assert code == 0 and f"{PASS}: {name}" in out, out


def test_core_file_names_its_parts():
    spec = Spec(name="blk")
    text = core_files(spec)["blk.core"]
    assert text.startswith("CAPI=2:\n")
    assert vlnv(spec) == f"relu-hw:relu_hw:blk:{__version__}"
    assert f"\nname: {vlnv(spec)}\n" in text
    assert "flow: sim" in text and "tool: icarus" in text and "default_tool" not in text
    assert re.search(r"^  default:\n    filesets: \[rtl\]$", text, re.M)


def _words(text):
    return [int(line, 16) for line in text.splitlines()]


def test_vectors_are_the_golden_model_on_edge_codes_first():
    spec = Spec(kind="leaky_relu", slope="0.25", width=12, frac=4, out_width=8, out_frac=2,
                lanes=3, user_width=2)
    inputs, expected = (_words(t) for t in vectors(spec, beats=40))
    assert len(inputs) == len(expected) == 40
    # Unpacked here by hand: 16-bit input lanes and 8-bit output lanes, then tlast and tuser.
    x = np.array([[((w >> 16 * k) & 0xFFF) - ((w >> 16 * k) & 0x800) * 2 for k in range(3)]
                  for w in inputs])
    edges = edge_codes(spec)
    assert x[:len(edges)].tolist() == [[c] * 3 for c in edges]
    y = golden(spec, x)
    assert y.min() < 0
    for w_in, w_out, row in zip(inputs, expected, y):
        assert w_out & 0xFFFFFF == sum((int(v) & 0xFF) << 8 * k for k, v in enumerate(row))
        assert w_in >> 48 == w_out >> 24    # tlast and tuser travel with their beat
    assert inputs[-1] >> 48 & 1             # the last beat carries tlast


def _icarus(folder, name):
    """Compile and run ``<name>_tb`` in ``folder``; the last line it prints."""
    subprocess.run(["iverilog", "-o", "tb.vvp", f"{name}_tb.v", f"{name}.v"], cwd=folder,
                   check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=folder, capture_output=True, text=True,
                         timeout=120).stdout
    return out.strip().splitlines()[-1]


def test_testbench_fails_on_a_wrong_expected_beat(tmp_path):
    spec = Spec(lanes=2, width=8, frac=4)
    files = {f"{spec.name}.v": to_verilog(spec), **core_files(spec)}
    write_files(tmp_path / "right", files)
    assert _icarus(tmp_path / "right", spec.name).startswith(f"{PASS}: ")
    lines = files[f"{spec.name}_out.hex"].splitlines()
    lines[300] = f"{int(lines[300], 16) ^ 1:0{len(lines[300])}x}"    # one bit of one lane
    files[f"{spec.name}_out.hex"] = "\n".join(lines) + "\n"
    write_files(tmp_path / "wrong", files)
    assert _icarus(tmp_path / "wrong", spec.name) == f"{FAIL}: {spec.name}: 1 errors in 512 " \
                                                     f"output beats"


# Mutants whose fault shows at the ports; the others (input ready combinational, output valid
# waiting for ready) break rules a testbench cannot observe, and the formal proofs catch them.
OBSERVABLE = [m for m in MUTANTS if m.name not in ("comb_ready", "valid_waits")]


@pytest.mark.parametrize("mutant", OBSERVABLE, ids=lambda m: m.name)
def test_testbench_fails_on_a_broken_design(tmp_path, mutant):
    spec = mutant.spec
    axis = load_mutated("axis", (), mutant.name)
    axis.ActivationPipeline = mutant.pipeline_class()
    write_files(tmp_path, {f"{spec.name}.v": convert(axis.AXIStreamActivation(spec), spec.name),
                           **core_files(spec)})
    assert _icarus(tmp_path, spec.name).startswith(f"{FAIL}: {spec.name}: ")
