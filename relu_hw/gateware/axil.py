# SPDX-License-Identifier: Apache-2.0
"""An AXI4-Lite slave in front of a simple register bus."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AXI4LiteSignature", "AXI4LiteSlave", "OKAY", "SLVERR", "DATA_BITS"]

#: Responses (BRESP, RRESP).
OKAY, SLVERR = 0b00, 0b10
#: AXI4-Lite data width here.
DATA_BITS = 32


class AXI4LiteSignature(wiring.Signature):
    """The five channels of AXI4-Lite, 32-bit data, from the master's side (a slave takes it
    flipped, ``In(...)``): ``awaddr awvalid awready wdata wstrb wvalid wready bresp bvalid
    bready araddr arvalid arready rdata rresp rvalid rready``. No ``awprot``/``arprot``."""

    def __init__(self, addr_width):
        self.addr_width = addr_width
        super().__init__({
            "awaddr": Out(addr_width), "awvalid": Out(1), "awready": In(1),
            "wdata": Out(DATA_BITS), "wstrb": Out(DATA_BITS // 8), "wvalid": Out(1),
            "wready": In(1),
            "bresp": In(2), "bvalid": In(1), "bready": Out(1),
            "araddr": Out(addr_width), "arvalid": Out(1), "arready": In(1),
            "rdata": In(DATA_BITS), "rresp": In(2), "rvalid": In(1), "rready": Out(1),
        })


class AXI4LiteSlave(wiring.Component):
    """Turns AXI4-Lite transactions into requests on a register bus, one write and one read at
    a time.

    The write address and data channels are accepted independently (each ``ready`` is high
    while that channel's holding register is empty and no response waits); once both are
    held, ``w_valid`` presents the request (``w_addr``, the word address, ``w_data``,
    ``w_strb``) until ``w_ready`` (raised only while ``w_valid`` is, for one cycle); the
    response, OKAY or SLVERR as ``w_error`` says on that cycle, is then offered on B until
    taken. Likewise a read address is held and presented as
    ``r_valid``/``r_addr`` until ``r_ready`` (raised only while ``r_valid`` is, for one
    cycle), which brings ``r_data`` and ``r_error`` into R.
    A new write is taken only after the last one's response has gone; a new read address only
    after the last read's data has gone. The low two address bits are ignored.

    ``AWREADY``, ``WREADY`` and ``ARREADY`` are flip-flops (their next value is a function of
    four inputs), so that the ports drive no logic and the handshakes take one LUT level.

    Parameters
    ----------
    addr_width : int
        Bits of ``awaddr`` and ``araddr``.

    Members
    -------
    axil : In(AXI4LiteSignature(addr_width))
    w_valid, w_addr, w_data, w_strb : Out
    w_ready, w_error : In(1)
    r_valid, r_addr : Out
    r_ready, r_error : In(1)
    r_data : In(32)

    Control registers are reset; the address, data and response registers are not.
    """

    def __init__(self, addr_width):
        if isinstance(addr_width, bool) or not isinstance(addr_width, int) or \
                not 3 <= addr_width <= 32:
            raise ValueError(f"Address width must be an integer from 3 to 32, not "
                             f"{addr_width!r}")
        self._addr_width = addr_width
        words = addr_width - 2
        super().__init__({
            "axil": In(AXI4LiteSignature(addr_width)),
            "w_valid": Out(1), "w_addr": Out(words), "w_data": Out(DATA_BITS),
            "w_strb": Out(DATA_BITS // 8), "w_ready": In(1), "w_error": In(1),
            "r_valid": Out(1), "r_addr": Out(words), "r_ready": In(1), "r_error": In(1),
            "r_data": In(DATA_BITS),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def elaborate(self, platform):
        m = Module()
        bus = self.axil

        # Writes.
        aw_full = Signal(name="axil_aw_full")
        w_full = Signal(name="axil_w_full")
        bvalid = Signal(name="axil_bvalid")
        awready = Signal(init=1, name="axil_awready")
        wready = Signal(init=1, name="axil_wready")
        awaddr = Signal(self._addr_width - 2, name="axil_awaddr_q", reset_less=True)
        wdata = Signal(DATA_BITS, name="axil_wdata_q", reset_less=True)
        wstrb = Signal(DATA_BITS // 8, name="axil_wstrb_q", reset_less=True)
        bresp = Signal(2, name="axil_bresp_q", reset_less=True)
        m.d.comb += [
            # One write at a time: a new one is taken once the last response has gone.
            bus.awready.eq(awready),
            bus.wready.eq(wready),
            bus.bvalid.eq(bvalid),
            bus.bresp.eq(bresp),
            self.w_valid.eq(aw_full & w_full & ~bvalid),
            self.w_addr.eq(awaddr),
            self.w_data.eq(wdata),
            self.w_strb.eq(wstrb),
        ]
        # The holding registers follow the bus while their channel is ready, which ends on
        # its handshake: their enable is the ready flip-flop itself. The flags' next values
        # are written as logic, not as conditional assignments, which synthesis would make
        # synchronous resets driven through LUTs.
        with m.If(awready):
            m.d.sync += awaddr.eq(bus.awaddr[2:])
        with m.If(wready):
            m.d.sync += [wdata.eq(bus.wdata), wstrb.eq(bus.wstrb)]
        m.d.sync += [
            aw_full.eq(~self.w_ready & (aw_full | (bus.awvalid & awready))),
            w_full.eq(~self.w_ready & (w_full | (bus.wvalid & wready))),
            bvalid.eq(self.w_ready | (bvalid & ~bus.bready)),
        ]
        # OKAY is 0b00 and SLVERR 0b10: the error flag is the response's high bit.
        with m.If(self.w_ready):
            m.d.sync += bresp.eq(self.w_error << 1)
        # Ready is ~full & ~bvalid, a cycle ahead: a ready channel stays ready until its
        # handshake; a full one stays busy until the response has gone, and then is ready.
        m.d.sync += [awready.eq(Mux(awready, ~bus.awvalid, bvalid & bus.bready)),
                     wready.eq(Mux(wready, ~bus.wvalid, bvalid & bus.bready))]

        # Reads.
        ar_full = Signal(name="axil_ar_full")
        rvalid = Signal(name="axil_rvalid")
        arready = Signal(init=1, name="axil_arready")
        araddr = Signal(self._addr_width - 2, name="axil_araddr_q", reset_less=True)
        rdata = Signal(DATA_BITS, name="axil_rdata_q", reset_less=True)
        rresp = Signal(2, name="axil_rresp_q", reset_less=True)
        m.d.comb += [
            bus.arready.eq(arready),
            bus.rvalid.eq(rvalid),
            bus.rdata.eq(rdata),
            bus.rresp.eq(rresp),
            self.r_valid.eq(ar_full),
            self.r_addr.eq(araddr),
        ]
        with m.If(arready):
            m.d.sync += araddr.eq(bus.araddr[2:])
        m.d.sync += [
            ar_full.eq(~self.r_ready & (ar_full | (bus.arvalid & arready))),
            rvalid.eq(self.r_ready | (rvalid & ~bus.rready)),
        ]
        with m.If(self.r_ready):
            m.d.sync += [rdata.eq(self.r_data), rresp.eq(self.r_error << 1)]
        # Likewise ~ar_full & ~rvalid, a cycle ahead.
        m.d.sync += arready.eq(Mux(arready, ~bus.arvalid, rvalid & bus.rready))
        return m

