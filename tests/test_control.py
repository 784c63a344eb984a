# SPDX-License-Identifier: Apache-2.0
"""The control block (relu_hw.gateware.control) in simulation: parameter writes land at frame
boundaries on both backends, cycle for cycle alike; counters read over AXI4-Lite equal the
golden model's, and saturate."""

import numpy as np
import pytest

from relu_hw.frames import parse_writes
from relu_hw.gateware.control import ControlledActivation
from relu_hw.sim import run, simulate
from relu_hw.sim.scoreboard import check
from relu_hw.sim.stimulus import Stimulus, make_stimulus
from relu_hw.spec import Spec

from .mutants import load_mutated

LEAKY = Spec(kind="leaky_relu", slope="0.25", width=8, frac=4, lanes=3, max_value="3",
             stages=2, control="axi-lite", runtime="slope,max_value")
LEAKY_WRITES = [{"frame": 2, "register": "SLOPE", "value": "-0.5"},
                {"frame": 2, "register": "MAX_VALUE", "value": "1"},
                {"frame": 6, "register": "SLOPE", "value": "0"}]
CHANNELS = Spec(kind="prelu", lanes=2, channels=6, width=8, frac=4, out_width=6, out_frac=2,
                slopes=("0.5", "-1", "0.25", "0", "1.5", "-0.125"), control="axi-lite",
                runtime="slope", ready="combinational", user_width=2)
CHANNEL_WRITES = [{"frame": 1, "register": "SLOPE3", "value": "1"},
                  {"frame": 1, "register": "SLOPE4", "value": "-2"},
                  {"frame": 4, "register": "SLOPE0", "code": 0}]


@pytest.mark.parametrize("spec, writes", [(LEAKY, LEAKY_WRITES), (CHANNELS, CHANNEL_WRITES)],
                         ids=["leaky", "channels"])
def test_both_backends_agree_cycle_for_cycle_and_match_the_golden_model(spec, writes):
    writes = parse_writes(spec, writes)
    stim = make_stimulus(spec, beats=160, seed=4, valid_prob=0.6, ready_prob=0.6)
    traces = {b: run(spec, stim, backend=b, writes=writes) for b in ("amaranth", "verilator")}
    a, v = traces["amaranth"], traces["verilator"]
    for name in ("data", "last", "user", "out_cycle", "in_cycle"):
        np.testing.assert_array_equal(getattr(a, name), getattr(v, name), err_msg=name)
    assert check(spec, stim, a, writes=writes) == ([], 0)
    # The same trace against a golden model that applies the writes a frame late fails.
    late = [type(w)(w.frame + 1, w.register, w.code) for w in writes]
    assert check(spec, stim, a, writes=late)[1] > 0


def test_a_write_waits_for_the_frame_even_when_the_pipeline_is_empty():
    # Frame 0 is three beats; the source pauses for 40 cycles after the first, long enough
    # for the pipeline to empty, and the write (for frame 1) goes in that pause. The frame's
    # last two beats must still be computed with the old slope.
    spec = LEAKY
    data = np.array([[-32, -32, 40]] * 3 + [[-32, -32, 40]] * 2)
    last = np.array([False, False, True, False, True])
    valid = np.array([True] + [False] * 40 + [True] * 20)
    stim = Stimulus(data, last, np.zeros(5, np.uint64), valid, np.ones(61, bool))
    writes = parse_writes(spec, [{"frame": 1, "register": "SLOPE", "value": "1"}])
    trace = run(spec, stim, writes=writes)
    assert trace.in_cycle[1] > trace.out_cycle[0] + 1      # the pipeline emptied in between
    assert trace.data[:, 0].tolist() == [-8, -8, -8, -32, -32]
    assert check(spec, stim, trace, writes=writes) == ([], 0)


def test_simulate_reads_counters_equal_to_the_golden_model():
    report = simulate(CHANNELS, beats=300, seed=2, valid_prob=0.7, ready_prob=0.5,
                      backend="verilator", writes=CHANNEL_WRITES)
    assert report.passed, report.summary()
    assert report.counters["BEATS"] == 300 and report.writes == 3
    assert report.counters["ID"] >> 16 == 0x5248 and report.counters["STATUS"] == 0
    t = report.telemetry
    assert t["beats"] == 300 and len(t["sparsity"]) == 2
    assert t["sparsity"][1] == pytest.approx(report.counters["ZEROS1"] / 300, abs=1e-6)
    assert "counters read over AXI4-Lite (" in report.summary()


def test_counters_saturate_in_the_gateware():
    spec = Spec(kind="relu", width=8, frac=4, lanes=2, control="axi-lite")
    report = simulate(spec, beats=40, seed=1, dut=ControlledActivation(spec, counter_bits=3))
    # Three-bit counters stop at 7; the golden model counts in 32 bits.
    expected = {name: min(value, 7) for name, value in report.expected_counters.items()
                if name not in ("ID", "STATUS", "ALIVE")}
    assert {name: report.counters[name] for name in expected} == expected
    assert report.counters["BEATS"] == 7 and report.expected_counters["BEATS"] == 40


def test_segmented_counters_carry_and_saturate_in_the_gateware():
    # Two-bit segments: carries pass through three segments before the seven-bit counters
    # saturate at 127; the read path must add the pending carries in.
    spec = Spec(kind="relu", width=8, frac=4, lanes=2, control="axi-lite")
    report = simulate(spec, beats=200, seed=5, valid_prob=0.9, ready_prob=0.9,
                      dut=ControlledActivation(spec, counter_bits=7, segment_bits=2))
    expected = {name: min(value, 127) for name, value in report.expected_counters.items()
                if name not in ("ID", "STATUS", "ALIVE")}
    assert {name: report.counters[name] for name in expected} == expected
    assert report.counters["BEATS"] == 127
    assert any(15 < value < 127 for value in expected.values())


def test_commits_inside_a_frame_are_caught_in_simulation():
    module = load_mutated("control", (
        ("m.d.comb += boundary.eq((between & ~in_fire) | (in_fire & last))",
         "m.d.comb += boundary.eq(1)"),), "commit_anytime")
    report = simulate(LEAKY, beats=200, seed=3, valid_prob=0.7, ready_prob=0.7,
                      writes=LEAKY_WRITES, dut=module.ControlledActivation(LEAKY))
    assert not report.passed and report.mismatch_count > 0


def test_bad_runtime_writes_are_refused_before_the_run():
    with pytest.raises(ValueError, match="register must be a runtime parameter register"):
        simulate(LEAKY, beats=10, writes=[{"frame": 0, "register": "ID", "code": 0}])
