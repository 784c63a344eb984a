# SPDX-License-Identifier: Apache-2.0
"""The self-checking board design: the on-chip check agrees with the golden model's signature in
simulation, catches a wrong signature, and the iCEBreaker bitstream builds and closes timing."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.sim import Simulator

from relu_hw.flows.board import BoardCheck, DEFAULT_BEATS, expected_signature, pattern
from relu_hw.spec import Spec

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "relu_hw"]


def _run(check, max_cycles):
    sim = Simulator(check)
    sim.add_clock(1e-6)
    seen = {}

    async def bench(ctx):
        for cycle in range(max_cycles):
            await ctx.tick()
            if ctx.get(check.done):
                break
        seen.update(done=ctx.get(check.done), passed=ctx.get(check.passed),
                    sig=ctx.get(check.sig), cycles=cycle + 1)

    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("spec", [
    Spec(kind="relu", width=8, frac=4, lanes=2),
    Spec(kind="leaky_relu", width=8, frac=4, lanes=3, stages=2, user_width=3),
    Spec(kind="thresholded_relu", width=6, frac=2, lanes=1, ready="combinational"),
    Spec(kind="relu", width=12, frac=4, lanes=2, out_width=6, out_frac=1, max_value="6",
         rounding="half_even"),
], ids=["relu", "leaky-2stage-user", "thresholded-comb", "relu6-narrow-out"])
def test_on_chip_check_matches_golden_signature(spec):
    beats = 80
    check = BoardCheck(spec, beats)
    seen = _run(check, 6 * beats)
    assert seen["done"] and seen["passed"], seen
    assert seen["sig"] == expected_signature(spec, beats) == check.expected
    # Random idle cycles and backpressure: the run takes more cycles than beats.
    assert seen["cycles"] > beats + spec.latency


def test_on_chip_check_fails_on_a_wrong_signature():
    spec = Spec(kind="relu", width=8, frac=4, lanes=2)
    wrong = expected_signature(spec, 40) ^ 1
    seen = _run(BoardCheck(spec, 40, expected=wrong), 400)
    assert seen["done"] and not seen["passed"]


def test_signature_depends_on_the_function():
    a = expected_signature(Spec(kind="relu", width=8, lanes=2), 64)
    b = expected_signature(Spec(kind="leaky_relu", width=8, lanes=2), 64)
    assert a != b


def test_pattern_covers_negative_and_positive_codes():
    data, last, user = pattern(Spec(width=8, lanes=4, user_width=2), 256)
    assert data.min() == -128 and data.max() == 127
    for k in range(4):   # odd steps: every code once in 2**width beats
        assert len(set(data[:, k].tolist())) == 256
    assert last.sum() == 32 and set(user.tolist()) == {0, 1, 2, 3}


def test_board_check_validates_beats():
    with pytest.raises(ValueError, match="Beat count must be an integer from 1 to"):
        BoardCheck(Spec(), 0)


def test_board_cli_rejects_bad_beats(tmp_path):
    bad = subprocess.run([*CLI, "board", "--board", "icebreaker",
                          "--beats", "0", "-o", str(tmp_path / "b")], capture_output=True,
                         text=True, cwd=ROOT)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.splitlines()[0] == ("relu-hw board: error: --beats must be an integer "
                                          "from 1 to 1048576, not 0")
    assert not (tmp_path / "b").exists()


def test_icebreaker_bitstream_builds_and_closes_timing(tmp_path):
    # One build, through the command line: the library's result is its JSON.
    proc = subprocess.run([*CLI, "board", "--board",
                           "icebreaker", "--lanes", "4", "--width", "16", "-o",
                           str(tmp_path / "b"), "--json"], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    bitstream = tmp_path / "b" / "icebreaker_relu_axis.bin"
    assert Path(result["bitstream"]) == bitstream
    assert bitstream.stat().st_size == result["bitstream_bytes"] > 100_000   # a UP5K image
    assert result["clock_mhz"] == 12.0
    assert result["timing_met"] and result["fmax_mhz"] >= 12.0
    spec = Spec(kind="relu", width=16, lanes=4)
    assert result["beats"] == DEFAULT_BEATS
    assert result["expected_signature"] == f"0x{expected_signature(spec, DEFAULT_BEATS):08x}"
    assert result["utilization"]["ICESTORM_LC"]["used"] > 0
    assert json.loads((tmp_path / "b" / "icebreaker_relu_axis.json").read_text()) == result
