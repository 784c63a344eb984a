# SPDX-License-Identifier: Apache-2.0
"""The AXI4-Stream top level: port names, lane packing, padding, reset."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from relu_hw.gateware import AXIStreamActivation
from relu_hw.golden import golden
from relu_hw.spec import Spec


def test_port_names():
    top = AXIStreamActivation(Spec(user_width=2))
    assert list(top.signature.members) == [
        "aclk", "aresetn",
        "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tlast", "s_axis_tuser",
        "m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast", "m_axis_tuser",
    ]
    assert "s_axis_tuser" not in AXIStreamActivation(Spec()).signature.members


def test_vendor_attributes_are_on_the_ports_or_off():
    spec = Spec(user_width=2)
    top = AXIStreamActivation(spec)
    assert top.vendor_attributes
    assert top.s_axis_tuser.attrs == {
        "X_INTERFACE_INFO": "xilinx.com:interface:axis:1.0 s_axis TUSER"}
    assert top.aresetn.attrs["X_INTERFACE_PARAMETER"] == "POLARITY ACTIVE_LOW"
    plain = AXIStreamActivation(spec, vendor_attributes=False)
    assert not plain.vendor_attributes
    assert all(not getattr(plain, name).attrs for name in plain.signature.members)
    with pytest.raises(TypeError, match="Vendor attributes must be True or False, not 1"):
        AXIStreamActivation(spec, vendor_attributes=1)


@pytest.mark.parametrize("width, out_width, lanes, bits_in, bits_out", [
    (16, 16, 4, 64, 64), (12, 8, 3, 48, 24), (5, 9, 2, 16, 32), (32, 17, 1, 32, 24),
])
def test_tdata_is_whole_bytes_per_lane(width, out_width, lanes, bits_in, bits_out):
    members = AXIStreamActivation(Spec(width=width, frac=0, out_width=out_width, out_frac=0,
                                       lanes=lanes)).signature.members
    assert members["s_axis_tdata"].shape == bits_in
    assert members["m_axis_tdata"].shape == bits_out


def _run(spec, beats):
    """Drive the top level clock by hand (it owns its clock domain) and collect outputs.
    ``beats`` are ``(tdata, tlast, tuser)``; returns the same for the output."""
    dut = AXIStreamActivation(spec)
    out = []

    async def edge(ctx):
        ctx.set(dut.aclk, 1)
        await ctx.delay(5e-9)
        ctx.set(dut.aclk, 0)
        await ctx.delay(5e-9)

    async def testbench(ctx):
        ctx.set(dut.aresetn, 0)
        await edge(ctx)
        ctx.set(dut.aresetn, 1)
        ctx.set(dut.m_axis_tready, 1)
        pending = list(beats)
        for _ in range(len(beats) + spec.latency + 4):
            if pending:
                tdata, tlast, tuser = pending[0]
                ctx.set(dut.s_axis_tvalid, 1)
                ctx.set(dut.s_axis_tdata, tdata)
                ctx.set(dut.s_axis_tlast, tlast)
                if spec.user_width:
                    ctx.set(dut.s_axis_tuser, tuser)
            else:
                ctx.set(dut.s_axis_tvalid, 0)
            await ctx.delay(1e-9)
            took = pending and ctx.get(dut.s_axis_tready)
            if ctx.get(dut.m_axis_tvalid):
                out.append((ctx.get(dut.m_axis_tdata), ctx.get(dut.m_axis_tlast),
                            ctx.get(dut.m_axis_tuser) if spec.user_width else 0))
            await edge(ctx)
            if took:
                pending.pop(0)

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    return out


def test_lanes_padding_and_sideband():
    # 12-bit lanes in 16-bit slots; the pad bits carry garbage that must be ignored, and the
    # 10-bit output lanes come sign-extended in 16-bit slots.
    spec = Spec(kind="leaky_relu", slope="0.5", width=12, frac=4, out_width=10, out_frac=2,
                lanes=3, user_width=4, rounding="half_away")
    rng = np.random.default_rng(0)
    codes = rng.integers(-2048, 2048, size=(20, 3))
    beats = []
    for k, row in enumerate(codes):
        word = 0
        for lane, c in enumerate(row):
            word |= ((int(c) & 0xfff) | (0xa << 12)) << (16 * lane)
        beats.append((word, k % 3 == 0, k % 16))
    out = _run(spec, beats)
    assert len(out) == len(beats)
    want = golden(spec, codes)
    for k, (tdata, tlast, tuser) in enumerate(out):
        for lane in range(3):
            slot = (tdata >> (16 * lane)) & 0xffff
            value = slot - (1 << 16) if slot >> 15 else slot
            assert value == want[k, lane]
        assert (tlast, tuser) == (int(k % 3 == 0), k % 16)


def test_reset_empties_pipeline():
    spec = Spec(lanes=1, stages=3)
    dut = AXIStreamActivation(spec)
    seen = []

    async def testbench(ctx):
        ctx.set(dut.aresetn, 1)
        ctx.set(dut.s_axis_tvalid, 1)
        for _ in range(2):  # two beats enter, then a reset comes
            ctx.set(dut.aclk, 1)
            await ctx.delay(5e-9)
            ctx.set(dut.aclk, 0)
            await ctx.delay(5e-9)
        ctx.set(dut.s_axis_tvalid, 0)
        ctx.set(dut.aresetn, 0)
        ctx.set(dut.aclk, 1)
        await ctx.delay(5e-9)
        ctx.set(dut.aclk, 0)
        ctx.set(dut.aresetn, 1)
        ctx.set(dut.m_axis_tready, 1)
        for _ in range(5):
            await ctx.delay(5e-9)
            seen.append(ctx.get(dut.m_axis_tvalid))
            ctx.set(dut.aclk, 1)
            await ctx.delay(5e-9)
            ctx.set(dut.aclk, 0)

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    assert seen == [0] * 5
