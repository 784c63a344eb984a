# SPDX-License-Identifier: Apache-2.0
"""The AXI4-Stream top level."""

from amaranth.hdl import ClockDomain, ClockSignal, Module, ResetSignal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..regmap import RegisterMap
from ..spec import Spec
from .axil import AXI4LiteSignature
from .control import ControlledActivation, needs_controller
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
    if spec.control == "axi-lite":
        # The slave's side of the bus: the master's signature, flipped.
        for name, member in AXI4LiteSignature(RegisterMap(spec).address_width).members.items():
            members[f"s_axil_{name}"] = member.flip()
    return wiring.Signature(members)


class AXIStreamActivation(wiring.Component):
    """An :class:`ActivationPipeline` behind conventional AXI4-Stream ports.

    TDATA carries whole bytes: lane ``i`` occupies bits ``[i*P, i*P + width)`` where ``P`` is
    the lane width rounded up to a multiple of 8. Input pad bits are ignored; output lanes are
    sign-extended to their padded width. TLAST and TUSER travel with their beat.

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
    s_axil_awaddr, ..., s_axil_rready
        With control ``axi-lite``: the AXI4-Lite slave of the registers
        (:class:`~relu_hw.regmap.RegisterMap`), on ``aclk`` and ``aresetn`` too.

    Latency and throughput are those of :class:`ActivationPipeline`; a block with control or
    per-channel slopes is a :class:`~relu_hw.gateware.control.ControlledActivation` inside.
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
        if needs_controller(spec):
            m.submodules.core = core = ControlledActivation(spec)
        else:
            m.submodules.core = core = ActivationPipeline(spec)
        for name, member in self.signature.members.items():
            if name.startswith("s_axil_"):
                port, inner = getattr(self, name), getattr(core.axil, name[len("s_axil_"):])
                m.d.comb += inner.eq(port) if member.flow == In else port.eq(inner)

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
                # Assigning a signed value to a wider slice sign-extends it.
                self.m_axis_tdata[k * p_out:(k + 1) * p_out].eq(lane_out),
            ]
        return m
