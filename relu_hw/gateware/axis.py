# SPDX-License-Identifier: Apache-2.0
"""The AXI4-Stream top level."""

from amaranth.hdl import ClockDomain, ClockSignal, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..spec import Spec
from .pipeline import ActivationPipeline

__all__ = ["AXIStreamActivation", "axis_signature"]


def axis_signature(spec):
    """The top level's ports as a :class:`wiring.Signature`: what the Verilog module exposes."""
    members = {"aclk": In(1), "aresetn": In(1)}
    for prefix, flow, fmt in (("s_axis", In, spec.input_format),
                              ("m_axis", Out, spec.output_format)):
        members[f"{prefix}_tdata"] = flow(fmt.lane_bits * spec.lanes)
        members[f"{prefix}_tvalid"] = flow(1)
        members[f"{prefix}_tready"] = flow.flip()(1)
        members[f"{prefix}_tlast"] = flow(1)
        if spec.user_width:
            members[f"{prefix}_tuser"] = flow(spec.user_width)
    return wiring.Signature(members)


class AXIStreamActivation(wiring.Component):
    """An :class:`ActivationPipeline` behind conventional AXI4-Stream ports.

    TDATA carries whole bytes: lane ``i`` occupies bits ``[i*P, i*P + width)`` where ``P`` is
    the lane width rounded up to a multiple of 8. Input pad bits are ignored; output lanes are
    sign-extended to their padded width, or zero-extended when the output format is unsigned.
    TLAST and TUSER travel with their beat.

    Parameters
    ----------
    spec : Spec

    Members
    -------
    aclk : In(1)
        The clock; every port is sampled on its rising edge.
    aresetn : In(1)
        Active-low synchronous reset.
    s_axis_tdata, s_axis_tvalid, s_axis_tready, s_axis_tlast[, s_axis_tuser]
        The input stream (``tuser`` only when ``spec.user_width`` is non-zero).
    m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast[, m_axis_tuser]
        The output stream.

    Latency and throughput are those of :class:`ActivationPipeline`.
    """

    def __init__(self, spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        self._spec = spec
        super().__init__(axis_signature(spec))

    @property
    def spec(self):
        return self._spec

    @property
    def latency(self):
        return self._spec.latency

    def elaborate(self, platform):
        m = Module()
        spec = self._spec
        m.domains.sync = ClockDomain("sync")
        m.d.comb += [
            ClockSignal("sync").eq(self.aclk),
            ResetSignal("sync").eq(~self.aresetn),
        ]
        m.submodules.core = core = ActivationPipeline(spec)

        p_in, p_out = spec.input_format.lane_bits, spec.output_format.lane_bits
        m.d.comb += [
            core.i.valid.eq(self.s_axis_tvalid),
            self.s_axis_tready.eq(core.i.ready),
            core.i.payload.last.eq(self.s_axis_tlast),
            self.m_axis_tvalid.eq(core.o.valid),
            core.o.ready.eq(self.m_axis_tready),
            self.m_axis_tlast.eq(core.o.payload.last),
        ]
        if spec.user_width:
            m.d.comb += [
                core.i.payload.user.eq(self.s_axis_tuser),
                self.m_axis_tuser.eq(core.o.payload.user),
            ]
        for k in range(spec.lanes):
            lane_out = core.o.payload.data[k]
            m.d.comb += [
                core.i.payload.data[k].eq(self.s_axis_tdata[k * p_in:k * p_in + spec.width]),
                # Assigning to a wider slice extends by the lane's signedness.
                self.m_axis_tdata[k * p_out:(k + 1) * p_out].eq(lane_out),
            ]
        return m
