# SPDX-License-Identifier: Apache-2.0
"""The stream pipeline: handshakes, throughput, latency and sideband under backpressure."""

import re

import pytest
from amaranth.hdl import signed
from amaranth.sim import Simulator

from relu_hw.gateware import ActivationPipeline
from relu_hw.generate import to_verilog
from relu_hw.sim import simulate
from relu_hw.spec import READY_MODES, ZEROING_MODES, Spec

PATTERNS = [(1.0, 1.0), (0.5, 1.0), (1.0, 0.3), (0.6, 0.6), (0.9, 0.1)]


@pytest.mark.parametrize("valid_prob, ready_prob", PATTERNS)
@pytest.mark.parametrize("ready", ["registered", "combinational"])
@pytest.mark.parametrize("lanes, stages", [(1, 1), (3, 2), (8, 4), (2, 1)])
def test_every_beat_once_in_order(lanes, stages, ready, valid_prob, ready_prob):
    spec = Spec(kind="leaky_relu", slope="0.3", width=12, frac=6, out_width=10, out_frac=4,
                rounding="half_even", lanes=lanes, stages=stages, ready=ready, user_width=3)
    report = simulate(spec, beats=300, seed=lanes * 7 + stages, valid_prob=valid_prob,
                      ready_prob=ready_prob)
    assert report.passed, report.mismatches
    assert report.latency_min >= spec.latency


@pytest.mark.parametrize("ready", ["registered", "combinational"])
@pytest.mark.parametrize("stages", [1, 2, 3, 5])
def test_full_throughput(stages, ready):
    spec = Spec(lanes=2, stages=stages, ready=ready)
    report = simulate(spec, beats=200)
    assert report.passed
    # N beats leave in N + latency cycles, each exactly `latency` cycles after it entered.
    assert report.cycles == 200 + spec.latency
    assert report.latency_min == report.latency_max == spec.latency


def test_latency_property():
    for stages in (1, 4):
        assert ActivationPipeline(Spec(stages=stages)).latency == stages


def test_ports():
    dut = ActivationPipeline(Spec(width=12, out_width=9, out_frac=3, lanes=3, user_width=5))
    i_layout, o_layout = dut.i.payload.shape(), dut.o.payload.shape()
    assert i_layout["data"].shape.elem_shape == signed(12)
    assert o_layout["data"].shape.elem_shape == signed(9)
    assert i_layout["data"].shape.length == 3
    assert i_layout["user"].width == 5
    assert "user" not in ActivationPipeline(Spec()).i.payload.shape().members


def test_rejects_non_spec():
    with pytest.raises(TypeError, match="Spec must be a relu_hw.Spec, not 3"):
        ActivationPipeline(3)


def _ready_follows_output_ready(ready_mode):
    """Does input ready change within a cycle when only output ready changes?"""
    dut = ActivationPipeline(Spec(lanes=1, stages=2, ready=ready_mode))
    seen = []

    async def testbench(ctx):
        # Fill the pipeline with the sink stalled.
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.o.ready, 0)
        await ctx.tick().repeat(6)
        for o_ready in (0, 1, 0, 1):
            ctx.set(dut.o.ready, o_ready)
            seen.append(ctx.get(dut.i.ready))  # same cycle, no clock edge in between

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    return len(set(seen)) > 1


def test_registered_ready_has_no_combinational_path():
    assert not _ready_follows_output_ready("registered")


def test_combinational_ready_follows_output_ready():
    assert _ready_follows_output_ready("combinational")


def test_output_holds_while_stalled():
    """Once valid, the output beat stays valid and unchanged until taken."""
    spec = Spec(lanes=2, stages=2)
    dut = ActivationPipeline(spec)
    samples = []

    async def testbench(ctx):
        ctx.set(dut.o.ready, 0)
        for k in range(3):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, {"data": [k + 1, -(k + 1)], "last": k % 2})
            await ctx.tick()
        ctx.set(dut.i.valid, 0)
        for _ in range(5):
            await ctx.tick()
            samples.append((ctx.get(dut.o.valid), ctx.get(dut.o.payload.as_value())))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()
    assert all(valid for valid, _ in samples)
    assert len({payload for _, payload in samples}) == 1


@pytest.mark.parametrize("ready", READY_MODES)
@pytest.mark.parametrize("zeroing", ZEROING_MODES)
@pytest.mark.parametrize("kind", ["relu", "thresholded_relu"])
def test_zeroing_shapes_the_verilog_not_the_function(kind, zeroing, ready):
    spec = Spec(kind=kind, width=8, frac=4, lanes=2, stages=2, ready=ready, zeroing=zeroing)
    by_reset = zeroing == "reset" or (zeroing == "auto" and ready == "combinational")
    assert spec.zero_by_reset == by_reset
    # By reset, the zero is a multiplexer with a constant zero branch (which synthesis maps onto
    # the flip-flops' synchronous reset); by logic there is none.
    text = to_verilog(spec)
    zero_branch = r"\? \d+'h0+ :|: \d+'h0+;"
    assert (re.search(zero_branch, text) is not None) == by_reset
    result = simulate(spec, beats=300, valid_prob=0.6, ready_prob=0.6, seed=3)
    assert result.passed, result.summary()
