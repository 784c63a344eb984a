# SPDX-License-Identifier: Apache-2.0
"""The Amaranth backend: the gateware itself on Amaranth's Python simulator.

A producer and a consumer testbench drive :class:`~relu_hw.gateware.ActivationPipeline` (or,
for a block with control or per-channel slopes,
:class:`~relu_hw.gateware.control.ControlledActivation`) with the cycle rules of
:mod:`.stimulus`, taking input beats and patterns from the source a chunk at a time and handing
output beats to the sink a chunk at a time. The producer also drives the AXI4-Lite bus: the
parameter writes, and the snapshot and reads after the run.
"""

import numpy as np
from amaranth.hdl import Value
from amaranth.sim import Simulator

from ..gateware import ActivationPipeline
from ..gateware.control import ControlledActivation, needs_controller
from ..regmap import RegisterMap
from .scoreboard import Collector, End, OutBeats
from .stimulus import (BUS_TIMEOUT, MAX_IDLE_CYCLES, bus_writes, check_max_idle, deadline,
                       horizon, readback_registers, stall_message, watch)

__all__ = ["stream_amaranth", "run_amaranth"]

#: Output beats handed to the sink at a time.
CHUNK = 4096


class _Patterns:
    """The valid and ready patterns of ``source`` by cycle, for cycles asked in increasing
    order (the two testbenches are at most a cycle apart)."""

    def __init__(self, source, size):
        self._length = source.pattern_length
        self._chunks = source.pattern_chunks(size)
        self._windows = []          # (start, valid, ready), the latest two

    def at(self, c):
        if c >= self._length:
            return True, True
        while not self._windows or c >= self._windows[-1][0] + len(self._windows[-1][1]):
            self._windows = self._windows[-1:] + [next(self._chunks)]
        for start, valid, ready in self._windows:
            if start <= c < start + len(valid):
                return bool(valid[c - start]), bool(ready[c - start])
        raise AssertionError(f"pattern of cycle {c} asked for out of order")


class _Bus:
    """The AXI4-Lite master of a run (see the cycle rules of :mod:`.stimulus`): the parameter
    writes, then, once asked, a snapshot and the reads of the registers read back."""

    def __init__(self, spec, dut, writes):
        self._axil = dut.axil if spec.control != "none" else None
        self._writes = bus_writes(spec, writes)
        self.done = 0                   # writes with their response
        self.error = None
        self.registers = None
        self._ops = []                  # ("w", address, data, name) or ("r", address, name)
        self._op = None
        self._aw = self._w = self._ar = False
        self._since = 0
        self._spec = spec

    @property
    def active(self):
        return self._axil is not None

    def may_offer(self, frame):
        """Whether a beat of ``frame`` may be offered: every write for it is done."""
        return self.done == len(self._writes) or self._writes[self.done][0] > frame

    def read_back(self):
        """Queue the snapshot and the reads of the registers read back."""
        control = RegisterMap(self._spec)["CONTROL"]
        self._ops = [("w", control.offset, control.fields[1].bits(1), "CONTROL")]
        self._ops += [("r", address, name) for name, address in readback_registers(self._spec)]
        self.registers = {}

    @property
    def finished(self):
        return self.registers is not None and not self._ops and self._op is None

    def drive(self, ctx, frames_started):
        """Set the bus for this cycle; ``frames_started`` counts the frames whose first beat
        has been taken."""
        bus = self._axil
        if self._op is None:
            # Writes for frames the run never reached are dropped once the stream is done.
            if self.done < len(self._writes) and self.registers is None:
                frame, address, data = self._writes[self.done]
                if frame == 0 or frames_started >= frame:
                    self._op = ("w", address, data, None)
            elif self._ops:
                self._op = self._ops.pop(0)
            if self._op is not None:
                self._since = 0
                if self._op[0] == "w":
                    ctx.set(bus.awaddr, self._op[1])
                    ctx.set(bus.wdata, self._op[2])
                    ctx.set(bus.wstrb, 0xF)
                    self._aw = self._w = True
                else:
                    ctx.set(bus.araddr, self._op[1])
                    self._ar = True
        ctx.set(bus.awvalid, self._aw)
        ctx.set(bus.wvalid, self._w)
        ctx.set(bus.arvalid, self._ar)
        ctx.set(bus.bready, 1)
        ctx.set(bus.rready, 1)

    def sampled(self, awready, wready, bvalid, bresp, arready, rvalid, rdata, rresp):
        """Take the handshakes sampled at a rising edge."""
        if self._op is None:
            return
        self._since += 1
        if self._since > BUS_TIMEOUT and self.error is None:
            self.error = f"the bus gave no response in {BUS_TIMEOUT} cycles"
        if self._aw and awready:
            self._aw = False
        if self._w and wready:
            self._w = False
        if self._ar and arready:
            self._ar = False
        kind = self._op[0]
        if kind == "w" and not self._aw and not self._w and bvalid:
            if bresp != 0 and self.error is None:
                name = self._op[3] or f"the register at {self._op[1]:#x}"
                self.error = f"a write to {name} answered {'SLVERR' if bresp == 2 else bresp}"
            if self._op[3] is None:
                self.done += 1
            self._op = None
        elif kind == "r" and not self._ar and rvalid:
            if rresp != 0 and self.error is None:
                self.error = f"a read of {self._op[2]} answered SLVERR"
            self.registers[self._op[2]] = rdata
            self._op = None


def stream_amaranth(spec, source, sink, vcd=None, progress=None, dut=None,
                    max_idle=MAX_IDLE_CYCLES, writes=()):
    """Run ``source`` through :class:`~relu_hw.gateware.ActivationPipeline` (or
    :class:`~relu_hw.gateware.control.ControlledActivation` where the spec needs it) on
    Amaranth's simulator, handing input and output beats to ``sink``; return an
    :class:`~.End`.

    ``progress``, if given, is called with the number of output beats so far, every
    :data:`CHUNK` beats. ``dut`` is the design to run instead: any component with the same
    ``i`` and ``o`` streams (and ``axil`` with control). The run ends as stalled after
    ``max_idle`` cycles without an output beat. ``writes`` are parameter writes
    (:class:`relu_hw.frames.Write`); with control, the registers are read back after the
    run (``End.registers``).
    """
    max_idle = check_max_idle(max_idle)
    if dut is None:
        dut = ControlledActivation(spec) if needs_controller(spec) else ActivationPipeline(spec)
    bus = _Bus(spec, dut, writes)
    n, latency = source.beats, spec.latency
    stop_offering = deadline(source.pattern_length, n, latency)
    give_up = horizon(source.pattern_length, n, latency)
    patterns = _Patterns(source, CHUNK)
    i_layout, o_layout = dut.i.payload.shape(), dut.o.payload.shape()
    i_payload, o_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    at_last = i_layout["last"].offset
    at_user = i_layout["user"].offset if spec.user_width else 0
    lane_mask = (1 << spec.width) - 1
    shifts = [spec.width * k for k in range(spec.lanes)]
    chunks = source.beat_chunks(CHUNK)
    state = {"taken": 0, "seen": 0, "cycles": None, "end": None, "stopped": None,
             "stream_done": False}

    def payload_of(chunk, k):
        word = int(chunk.last[k]) << at_last | int(chunk.user[k]) << at_user
        for shift, code in zip(shifts, chunk.data[k].tolist()):
            word |= (code & lane_mask) << shift
        return word

    async def producer(ctx):
        sent, offering, chunk, c = 0, False, None, 0
        frame, first, frames_started = 0, True, 0

        def drive():
            nonlocal offering, chunk
            if bus.active:
                if state["stream_done"] and bus.registers is None:
                    bus.read_back()
                bus.drive(ctx, frames_started)
            if not offering and sent < n and c < stop_offering and patterns.at(c)[0] \
                    and (not bus.active or bus.may_offer(frame)):
                if chunk is None or sent >= chunk.stop:
                    chunk = next(chunks)
                    sink.inputs(chunk)
                ctx.set(i_payload, payload_of(chunk, sent - chunk.start))
                offering = True
            ctx.set(dut.i.valid, offering)

        drive()
        axil = dut.axil if bus.active else None
        watched = [dut.i.ready] + ([axil.awready, axil.wready, axil.bvalid, axil.bresp,
                                    axil.arready, axil.rvalid, axil.rdata, axil.rresp]
                                   if bus.active else [])
        async for _, _, ready, *handshakes in ctx.tick().sample(*watched):
            if offering and ready:
                chunk.in_cycle[sent - chunk.start] = c
                k = sent - chunk.start
                frames_started += first
                first = bool(chunk.last[k])
                frame += first
                sent, offering = sent + 1, False
                state["taken"] = sent
            if bus.active:
                bus.sampled(*handshakes)
            c += 1
            drive()

    out_mask = (1 << spec.out_width) - 1
    o_shifts = [o_layout["data"].offset + spec.out_width * k for k in range(spec.lanes)]
    o_last = o_layout["last"].offset
    o_user, user_mask = ((o_layout["user"].offset, (1 << spec.user_width) - 1)
                         if spec.user_width else (0, 0))
    fmt = spec.output_format

    async def consumer(ctx):
        words, cycles, start = [], [], 0

        def flush():
            nonlocal words, cycles, start
            if not words:
                return
            raw = np.array([[w >> s & out_mask for s in o_shifts] for w in words],
                           dtype=np.int64)
            sink.outputs(OutBeats(
                start, fmt.codes(raw),
                np.array([bool(w >> o_last & 1) for w in words], dtype=bool),
                np.array([w >> o_user & user_mask for w in words], dtype=np.uint64),
                np.array(cycles, dtype=np.int64)))
            start += len(words)
            words, cycles = [], []
            if progress is not None:
                progress(start)

        c, stop, idle_from, ready_while_idle, offered_while_idle = 0, give_up, 0, 0, 0
        ready = patterns.at(0)[1]
        ctx.set(dut.o.ready, ready)
        async for _, _, valid, payload, offered in ctx.tick().sample(dut.o.valid, o_payload,
                                                                     dut.i.valid):
            ready_while_idle += ready
            offered_while_idle += offered
            if valid and ready:
                words.append(payload)
                cycles.append(c)
                idle_from, ready_while_idle, offered_while_idle = c + 1, 0, 0
                state["seen"] += 1
                if state["seen"] == n:
                    state["cycles"] = c + 1
                    stop = min(stop, c + 1 + watch(latency))
                if len(words) == CHUNK:
                    flush()
            c += 1
            if c >= stop:
                break
            if c - idle_from >= max_idle and state["seen"] < n:
                state["stopped"] = stall_message(max_idle, idle_from, offered_while_idle,
                                                 ready_while_idle)
                break
            ready = patterns.at(c)[1]
            ctx.set(dut.o.ready, ready)
        flush()
        # Out of time (not stalled): the beats still missing are reported the same way.
        timed_out = state["seen"] < n and state["stopped"] is None
        if timed_out:
            state["stopped"] = stall_message(c - idle_from, idle_from, offered_while_idle,
                                             ready_while_idle)
        if bus.active:
            # The registers, once the stream is done (and any write still on its way).
            state["stream_done"] = True
            waited = 0
            while not bus.finished and bus.error is None:
                await ctx.tick()
                waited += 1
                if waited > BUS_TIMEOUT * (len(readback_registers(spec)) + 2):
                    bus.error = "the register reads after the run did not finish"
        state["end"] = End(cycles=c if state["cycles"] is None else state["cycles"],
                           timed_out=timed_out,
                           taken=state["taken"], seen=state["seen"], stopped=state["stopped"],
                           registers=bus.registers, bus_error=bus.error)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    if vcd:
        with sim.write_vcd(str(vcd)):
            sim.run()
    else:
        sim.run()
    return state["end"]


def run_amaranth(spec, stim, vcd=None, dut=None, writes=()):
    """Run a whole ``stim`` (a :class:`~.stimulus.Stimulus` or any source) on Amaranth's
    simulator; return its :class:`~.scoreboard.Trace`."""
    collector = Collector(spec.lanes)
    end = stream_amaranth(spec, stim, collector, vcd=vcd, dut=dut, writes=writes)
    return collector.trace(end)
