# SPDX-License-Identifier: Apache-2.0
"""cocotb benches of blocks with control (``sim/control_bench.py``) on Verilator: runtime
parameters written in the middle of a frame, telemetry counters and snapshots against the
golden model, SLVERR, and the register offsets of the generated C header checked over the
bus."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import cocotb_tools.runner as cocotb_runner  # test dependencies: installed by ".[test]"
import pytest

from relu_hw.regdocs import regmap_file_names, regmap_files
from relu_hw.regmap import RegisterMap
from relu_hw.sim.verilator import verilator_root
from relu_hw.spec import Spec

SIM_DIR = Path(__file__).resolve().parent.parent / "sim"
if str(SIM_DIR) not in sys.path:
    sys.path.insert(0, str(SIM_DIR))

from axis_bench import BENCH_TOP, bench_top  # noqa: E402

CONFIGS = {
    # The slope written to 0 mid-stream makes the Leaky lanes ReLUs: lane 3, whose inputs are
    # all negative, is dead from the next frame on.
    "leaky_runtime_slope": dict(
        spec=Spec(kind="leaky_relu", slope="0.25", width=8, frac=4, lanes=4, stages=2,
                  max_value="4", control="axi-lite", runtime="slope"),
        writes=[{"register": "SLOPE", "value": "0"}], dead_lane=3),
    # Per-channel slopes in the slope memories (copied at the frame boundary); lane 1's
    # channels have slope 0 and negative inputs: dead throughout.
    "prelu_channels_runtime": dict(
        spec=Spec(kind="prelu", channels=8, lanes=2, width=8, frac=4, out_width=6, out_frac=2,
                  slopes=("0.5", "0", "-0.25", "0", "1.5", "0", "0.125", "0"),
                  control="axi-lite", runtime="slope,max_value", max_value="3",
                  rounding="half_even", ready="combinational"),
        writes=[{"register": "SLOPE4", "value": "-0.5"}, {"register": "SLOPE6", "value": "1"},
                {"register": "MAX_VALUE", "value": "2"}], dead_lane=1),
}


NAMES = list(CONFIGS)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """One Verilator build of every configuration (instances ``cfg<k>``, ports ``c<k>_...``),
    compiled without optimisation: the benches are short, the build is not."""
    root = verilator_root()
    mp = pytest.MonkeyPatch()
    mp.setenv("VERILATOR_ROOT", str(root))
    mp.setenv("PATH", f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    mp.setenv("MAKEFLAGS", f"-j{min(2, os.cpu_count() or 1)} CFG_CXXFLAGS_PCH_I=-include "
                           f"OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0")
    build_dir = tmp_path_factory.mktemp("cocotb-control")
    text, _ = bench_top([CONFIGS[name]["spec"] for name in NAMES])
    source = build_dir / "bench.v"
    source.write_text(text)
    runner = cocotb_runner.get_runner("verilator")
    runner.build(sources=[source], hdl_toplevel=BENCH_TOP, build_dir=build_dir,
                 build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style"],
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    yield runner, build_dir
    mp.undo()


def _run(build, tmp_path, name, testcase, extra=None):
    runner, build_dir = build
    config = CONFIGS[name]
    k = NAMES.index(name)
    env = {"options": config["spec"].options(), "prefix": f"c{k}_", "count": len(NAMES),
           "seed": 5, "writes": config["writes"], "dead_lane": config["dead_lane"],
           **(extra or {})}
    results = runner.test(
        test_module="control_bench", hdl_toplevel=BENCH_TOP, build_dir=build_dir,
        test_dir=tmp_path, results_xml=str(tmp_path / "results.xml"), testcase=testcase,
        extra_env={"RELU_HW_BENCH": json.dumps(env)}, timescale=("1ns", "1ps"),
        log_file=tmp_path / "sim.log")
    tests, failed = cocotb_runner.get_results(results)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert (tests, failed) == (1, 0), f"{failed} of {tests} cocotb tests failed\n" + "\n".join(
        line for line in log.splitlines() if "Error" in line or "assert" in line.lower())
    return log


@pytest.mark.parametrize("name", NAMES)
def test_runtime_parameters_and_counters(build, tmp_path, name):
    log = _run(build, tmp_path, name, "runtime_parameters_and_counters")
    assert "writes landed at frame 5" in log and "consistent snapshots" in log


def test_bad_addresses_answer_slverr(build, tmp_path):
    log = _run(build, tmp_path, "leaky_runtime_slope", "bad_addresses_answer_slverr")
    assert "answered SLVERR" in log


def _header_registers(header, tmp_path, prefix):
    """``({register: offset}, {register: reset})`` as a C compiler reads them from the
    generated header: the offsets of the struct's members, and each register's reset value
    from its fields' ``_reset`` and ``_bp`` macros."""
    struct = re.search(r"typedef struct[^{]*\{(.*?)\} (\w+_t);", header, re.S)
    names = re.findall(r"uint32_t (\w+);", struct.group(1))
    fields = {}
    for reg, fld in re.findall(rf"#define {prefix}__(\w+?)__(\w+)_reset ", header):
        fields.setdefault(reg, []).append(fld)
    lines = ["#include <stdio.h>", "#include <stddef.h>", '#include "regs.h"',
             "int main(void) {"]
    for name in names:
        reset = " | ".join(f"((unsigned long long){prefix}__{name}__{f}_reset << "
                           f"{prefix}__{name}__{f}_bp)" for f in fields.get(name, [])) or "0"
        lines.append(f'    printf("{name} %zu %llu\\n", offsetof({struct.group(2)}, {name}), '
                     f"(unsigned long long)({reset}));")
    lines += ["    return 0;", "}"]
    (tmp_path / "regs.h").write_text(header)
    (tmp_path / "offsets.c").write_text("\n".join(lines) + "\n")
    subprocess.run(["cc", "-std=c11", "-o", "offsets", "offsets.c"], cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "offsets")], capture_output=True, text=True,
                         check=True).stdout
    offsets, resets = {}, {}
    for line in out.splitlines():
        name, offset, reset = line.split()
        offsets[name], resets[name] = int(offset), int(reset)
    return offsets, resets


@pytest.mark.parametrize("name", NAMES)
def test_header_offsets_match_the_bus(build, tmp_path, name):
    spec = CONFIGS[name]["spec"]
    header = regmap_files(spec)[regmap_file_names(spec)["c_header"]]
    offsets, resets = _header_registers(header, tmp_path, spec.name.upper())
    # The header agrees with the map, which the gateware is built from; the bench then reads
    # every register at the header's offset over the bus.
    regmap = RegisterMap(spec)
    assert offsets == {r.name: r.offset for r in regmap}
    assert resets == {r.name: r.reset for r in regmap}
    log = _run(build, tmp_path, name, "header_offsets_match_the_bus",
               {"offsets": offsets, "resets": resets})
    assert f"{len(offsets)} registers at the C header's offsets" in log
