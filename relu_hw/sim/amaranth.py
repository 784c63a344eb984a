# SPDX-License-Identifier: Apache-2.0
"""The Amaranth backend: the gateware itself on Amaranth's Python simulator.

A producer and a consumer testbench drive :class:`~relu_hw.gateware.ActivationPipeline` with
the cycle rules of :mod:`.stimulus`, taking input beats and patterns from the source a chunk
at a time and handing output beats to the sink a chunk at a time.
"""

import numpy as np
from amaranth.hdl import Value
from amaranth.sim import Simulator

from ..gateware import ActivationPipeline
from .scoreboard import Collector, End, OutBeats
from .stimulus import (MAX_IDLE_CYCLES, check_max_idle, deadline, horizon, stall_message,
                       watch)

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


def stream_amaranth(spec, source, sink, vcd=None, progress=None, dut=None,
                    max_idle=MAX_IDLE_CYCLES):
    """Run ``source`` through :class:`~relu_hw.gateware.ActivationPipeline` on Amaranth's
    simulator, handing input and output beats to ``sink``; return an :class:`~.End`.

    ``progress``, if given, is called with the number of output beats so far, every
    :data:`CHUNK` beats. ``dut`` is the design to run instead of ``ActivationPipeline(spec)``:
    any component with the same ``i`` and ``o`` streams. The run ends as stalled after
    ``max_idle`` cycles without an output beat.
    """
    max_idle = check_max_idle(max_idle)
    dut = ActivationPipeline(spec) if dut is None else dut
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
    state = {"taken": 0, "seen": 0, "cycles": None, "end": None, "stopped": None}

    def payload_of(chunk, k):
        word = int(chunk.last[k]) << at_last | int(chunk.user[k]) << at_user
        for shift, code in zip(shifts, chunk.data[k].tolist()):
            word |= (code & lane_mask) << shift
        return word

    async def producer(ctx):
        sent, offering, chunk, c = 0, False, None, 0

        def drive():
            nonlocal offering, chunk
            if not offering and sent < n and c < stop_offering and patterns.at(c)[0]:
                if chunk is None or sent >= chunk.stop:
                    chunk = next(chunks)
                    sink.inputs(chunk)
                ctx.set(i_payload, payload_of(chunk, sent - chunk.start))
                offering = True
            ctx.set(dut.i.valid, offering)

        drive()
        async for _, _, ready in ctx.tick().sample(dut.i.ready):
            if offering and ready:
                chunk.in_cycle[sent - chunk.start] = c
                sent, offering = sent + 1, False
                state["taken"] = sent
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
        state["end"] = End(cycles=c if state["cycles"] is None else state["cycles"],
                           timed_out=timed_out,
                           taken=state["taken"], seen=state["seen"], stopped=state["stopped"])

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


def run_amaranth(spec, stim, vcd=None, dut=None):
    """Run a whole ``stim`` (a :class:`~.stimulus.Stimulus` or any source) on Amaranth's
    simulator; return its :class:`~.scoreboard.Trace`."""
    collector = Collector(spec.lanes)
    end = stream_amaranth(spec, stim, collector, vcd=vcd, dut=dut)
    return collector.trace(end)
