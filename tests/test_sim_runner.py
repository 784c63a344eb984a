# SPDX-License-Identifier: Apache-2.0
"""Simulation runs end to end: the report, the VCD, bad parameters, and memory that does not
grow with the run."""

import pytest

from relu_hw.sim import Scoreboard, simulate, stream
from relu_hw.sim.stimulus import RandomStimulus
from relu_hw.spec import Spec

SPEC = Spec(kind="leaky_relu", slope="0.25", width=8, frac=4, lanes=3, user_width=2)


@pytest.mark.parametrize("kwargs, message", [
    (dict(beats=0), "Beat count must be an integer from 1 to 1e+15, not 0"),
    (dict(valid_prob=0), "Source valid probability must be a probability in (0, 1], not 0"),
    (dict(ready_prob=1.5), "Sink ready probability must be a probability in (0, 1], not 1.5"),
    (dict(backend="spice"), "Backend must be one of 'amaranth', 'verilator', not 'spice'"),
    (dict(verilog="x.v"), "Checking a Verilog file needs the verilator backend"),
])
def test_bad_simulation_parameters(kwargs, message):
    with pytest.raises(ValueError) as info:
        simulate(SPEC, **kwargs)
    assert str(info.value) == message


def test_report_summary_and_vcd(tmp_path):
    vcd = tmp_path / "wave.vcd"
    report = simulate(SPEC, beats=40, seed=2, valid_prob=0.5, ready_prob=0.5, vcd=vcd)
    assert report.passed and report.beats == 40
    assert report.cycles > report.ideal_cycles
    assert 0 < report.efficiency < 1
    assert "stage1_valid" in vcd.read_text()
    d = report.as_dict()
    assert d["passed"] and d["latency"]["nominal"] == 1 and d["mismatches"] == []
    assert report.summary().startswith(f"PASS: 40 beats in {report.cycles} cycles")


class _Watched(Scoreboard):
    """A scoreboard that records the most input chunks it ever held."""
    held = 0

    def inputs(self, beats):
        super().inputs(beats)
        self.held = max(self.held, len(self._inputs))


@pytest.mark.parametrize("backend, beats", [("verilator", 2_000_000), ("amaranth", 20_000)])
def test_a_long_run_holds_a_few_chunks(backend, beats):
    # Memory does not grow with the beats: the stimulus is made, run and checked a chunk at
    # a time, and the scoreboard lets go of each input chunk once its outputs are checked.
    spec = Spec(kind="leaky_relu", slope="1/8", width=16, lanes=8)
    board = _Watched(spec, beats)
    end, _ = stream(spec, RandomStimulus(spec, beats, 1, 0.9, 0.9), board, backend=backend)
    assert board.finish(end) == ([], 0) and board.seen == beats
    assert 2 <= board.held <= 4
