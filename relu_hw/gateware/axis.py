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

__all__ = ["AXIStreamActivation", "axis_signature", "interface_attributes"]


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


def interface_attributes(spec):
    """Xilinx's interface attributes of the top level's ports, ``{port: {attribute: value}}``,
    from which Vivado's block design and IP packager infer the two AXI4-Stream interfaces
    (``s_axis``, ``m_axis``), with control the AXI4-Lite slave (``s_axil``), the clock they
    are associated with and the active-low reset. Other tools read them as plain Verilog
    attributes; they change no logic."""
    buses = "s_axis:m_axis:s_axil" if spec.control == "axi-lite" else "s_axis:m_axis"
    attrs = {
        "aclk": {"X_INTERFACE_INFO": "xilinx.com:signal:clock:1.0 aclk CLK",
                 "X_INTERFACE_PARAMETER": f"ASSOCIATED_BUSIF {buses}, "
                                          f"ASSOCIATED_RESET aresetn"},
        "aresetn": {"X_INTERFACE_INFO": "xilinx.com:signal:reset:1.0 aresetn RST",
                    "X_INTERFACE_PARAMETER": "POLARITY ACTIVE_LOW"},
    }
    interfaces = {"s_axis": "axis", "m_axis": "axis", "s_axil": "aximm"}
    for name in axis_signature(spec).members:
        prefix, signal = name[:6], name[7:]     # s_axis_tdata, s_axil_awaddr, ...
        if prefix in interfaces:
            attrs[name] = {"X_INTERFACE_INFO": f"xilinx.com:interface:{interfaces[prefix]}:1.0 "
                                               f"{prefix} {signal.upper()}"}
    if spec.control == "axi-lite":
        attrs["s_axil_awaddr"]["X_INTERFACE_PARAMETER"] = (
            f"PROTOCOL AXI4LITE, DATA_WIDTH 32, "
            f"ADDR_WIDTH {RegisterMap(spec).address_width}")
    return attrs


class AXIStreamActivation(wiring.Component):
    """An :class:`ActivationPipeline` behind conventional AXI4-Stream ports.

    TDATA carries whole bytes: lane ``i`` occupies bits ``[i*P, i*P + width)`` where ``P`` is
    the lane width rounded up to a multiple of 8. Input pad bits are ignored; output lanes are
    sign-extended to their padded width, or zero-extended when the output format is unsigned.
    TLAST and TUSER travel with their beat.

    Parameters
    ----------
    spec : Spec
    vendor_attributes : bool
        Whether the ports carry Xilinx's interface attributes (:func:`interface_attributes`),
        default ``True``. Amaranth copies a port's attributes onto the internal wires that
        alias it; tools read them on ports only.

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

    def __init__(self, spec, vendor_attributes=True):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        if not isinstance(vendor_attributes, bool):
            raise TypeError(f"Vendor attributes must be True or False, not "
                            f"{vendor_attributes!r}")
        self._spec = spec
        self._vendor_attributes = vendor_attributes
        super().__init__(axis_signature(spec))
        if vendor_attributes:
            for name, attrs in interface_attributes(spec).items():
                getattr(self, name).attrs.update(attrs)

    @property
    def spec(self):
        return self._spec

    @property
    def latency(self):
        return self._spec.latency

    @property
    def vendor_attributes(self):
        return self._vendor_attributes

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
                # Assigning to a wider slice extends by the lane's signedness.
                self.m_axis_tdata[k * p_out:(k + 1) * p_out].eq(lane_out),
            ]
        return m
