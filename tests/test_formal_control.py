# SPDX-License-Identifier: Apache-2.0
"""Formal proofs of blocks with control (relu_hw.formal_control): they pass, and they fail on
blocks that break what they claim."""

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal, signed
from amaranth.sim import Simulator

from relu_hw.formal import events_hold, prove
from relu_hw.formal_control import (CONTROL_PROOFS, PROOF_SEGMENT_BITS, PROOFS, ControlHarness,
                                    prove_named)
from relu_hw.frames import FrameModel
from relu_hw.spec import Spec

from .mutants import load_mutated
from .workdirs import work_dir

WORKDIR = work_dir("test-formal-control")


def test_control_proofs_pass():
    kinds = {kind for kind, _ in CONTROL_PROOFS.values()}
    assert kinds == {"pipeline", "stream", "control"}
    results = prove_named(list(CONTROL_PROOFS), workdir=WORKDIR, jobs=2)
    for r in results:
        assert r.passed, r.summary() + "\n" + r.log_tail
        assert "successful proof by k-induction" in \
            (r.workdir / "job" / "logfile.txt").read_text()
    assert set(CONTROL_PROOFS) <= set(PROOFS)


class _Events(Elaboratable):
    """events_hold for an input code, an output code and five event flags."""

    def __init__(self, spec):
        self.spec = spec
        self.x = Signal(signed(spec.width))
        self.y = Signal(signed(spec.out_width))
        self.flags = Signal(5)
        self.ok = Signal()

    def elaborate(self, platform):
        m = Module()

        class Flags:
            negative, zero, clip, sat_high, sat_low = (self.flags[i] for i in range(5))
        m.d.comb += self.ok.eq(events_hold(self.spec, 0, self.x, self.y, Flags))
        return m


@pytest.mark.parametrize("options", [
    dict(kind="leaky_relu", width=5, frac=2, out_width=3, out_frac=1, slope="-0.75",
         max_value="1", rounding="half_even"),
    dict(kind="relu", width=5, frac=2, out_width=4, out_frac=0, overflow="wrap",
         max_value="2", rounding="half_up"),
    dict(kind="thresholded_relu", width=5, frac=1, threshold="0.5", out_width=3, out_frac=0,
         overflow="saturate_symmetric"),
])
def test_event_relations_accept_exactly_the_golden_events(options):
    # The proofs state events as relations on the exact value; on every input they must
    # accept the golden model's flags and no others.
    spec = Spec(lanes=1, **options)
    dut = _Events(spec)
    fin = spec.input_format
    codes = list(range(fin.min_code, fin.max_code + 1))
    y, events = FrameModel(spec).expect(np.array(codes)[:, None], np.ones(len(codes), bool),
                                        count=False)
    names = ("negative", "zero", "clip", "sat_high", "sat_low")
    found = {}

    async def bench(ctx):
        for n, x in enumerate(codes):
            ctx.set(dut.x, x)
            ctx.set(dut.y, int(y[n, 0]))
            for flags in range(32):
                ctx.set(dut.flags, flags)
                if ctx.get(dut.ok):
                    found.setdefault(x, []).append(flags)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    for n, x in enumerate(codes):
        want = sum(int(events[name][n, 0]) << i for i, name in enumerate(names))
        assert found.get(x) == [want], (x, found.get(x), want)


def _mutant(spec, counter_bits, control=(), axil=()):
    """A ControlledActivation built from the control block's (and the AXI4-Lite slave's)
    source with the given replacements."""
    module = load_mutated("control", control, "control")
    if axil:
        module.AXI4LiteSlave = load_mutated("axil", axil, "axil").AXI4LiteSlave
    return module.ControlledActivation(spec, counter_bits, PROOF_SEGMENT_BITS)


def _prove_mutant(proof, name, counter_bits=3, depth=None, **replacements):
    spec = Spec(**CONTROL_PROOFS[proof][1])
    dut = _mutant(spec, counter_bits, **replacements)
    return prove(spec, name=name, workdir=WORKDIR, depth=depth,
                 harness=ControlHarness(spec, counter_bits, dut=dut))


def test_commits_inside_a_frame_fail_the_proof():
    result = _prove_mutant("control_bus_frames_counters", "commits_anytime", control=(
        ("m.d.comb += boundary.eq((between & ~in_fire) | (in_fire & last))",
         "m.d.comb += boundary.eq(1)"),))
    assert result.status == "FAIL"
    assert "invariant: inside a frame the parameters are the frame's" in result.failed


def test_a_slope_copy_inside_a_frame_fails_the_proof():
    result = _prove_mutant("control_channels_memory", "copies_anytime", control=(
        ("m.d.comb += start.eq((pending | wrote) & boundary & ~busy)",
         "m.d.comb += start.eq((pending | wrote) & ~busy)"),))
    assert result.status == "FAIL"
    assert "invariant: copies start between frames" in result.failed


def test_a_wrapping_counter_fails_the_proof():
    # A counter whose top segment's carry out is lost wraps: one-bit counters after two
    # events, which come after the clear that follows reset (input ready is held low until
    # it lands), within twenty steps.
    result = _prove_mutant("control_bus_frames_counters", "wrapping_counter", counter_bits=1,
                           depth=20, control=((
                               "m.d.sync += saturated.eq(saturated |",
                               "m.d.sync += saturated.eq(saturated & 0 &"),))
    assert result.status == "FAIL"
    assert "each counter equals its events up to saturation" in result.failed


def test_a_second_write_before_the_response_fails_the_proof():
    result = _prove_mutant("control_bus_frames_counters", "second_write", axil=(
        ("awready.eq(Mux(awready, ~bus.awvalid, bvalid & bus.bready))",
         "awready.eq(Mux(awready, ~bus.awvalid, bvalid))"),))
    assert result.status == "FAIL"
    assert "at most one write address outstanding" in result.failed
