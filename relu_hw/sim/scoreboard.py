# SPDX-License-Identifier: Apache-2.0
"""The scoreboard: every output beat, in order, against the golden model, chunk by chunk.

A backend hands a sink the input beats as it starts on them (:class:`~.stimulus.Beats`, whose
``in_cycle`` it fills in) and the output beats as they leave (:class:`OutBeats`). The
:class:`Scoreboard` compares each output beat with the input beat of the same position:
lanes, ``last`` and ``user``; it counts lost and extra beats, and keeps the first mismatches
and the latency range. It holds only the input beats not yet matched, so its memory does not
grow with the run. It also counts, per lane, the events the block's telemetry counts
(:data:`~relu_hw.frames.EVENTS`) on the expected outputs. A block with per-channel slopes or
runtime parameters is checked against :class:`~relu_hw.frames.FrameModel`, which follows
frames and parameter writes. :class:`Collector` keeps everything instead, as a
:class:`Trace`.
"""

from collections import deque
from dataclasses import dataclass

import numpy as np

from ..frames import EVENTS, FrameModel, telemetry_summary
from ..golden import golden
from .stimulus import Beats

__all__ = ["OutBeats", "End", "Mismatch", "Scoreboard", "Trace", "Collector", "check",
           "expectation"]


@dataclass
class OutBeats:
    """Output beats ``start`` to ``start + len(data) - 1`` in the order they left: ``data``
    ``(beats, lanes)`` output codes, ``last``, ``user`` and the cycle each was taken on."""
    start: int
    data: np.ndarray
    last: np.ndarray
    user: np.ndarray
    out_cycle: np.ndarray


@dataclass
class End:
    """How a run ended: ``cycles`` simulated until the last expected output beat (inclusive),
    or all cycles simulated if it ``timed_out``; input beats ``taken``; output beats
    ``seen``; ``stopped``, a sentence, when the run ended before its time (it stalled, or the
    model stopped itself); for a block with control, ``registers`` read back after the run
    (``{name: value}``) and ``bus_error``, a sentence, when a register write or read went
    wrong."""
    cycles: int
    timed_out: bool
    taken: int
    seen: int
    stopped: str | None = None
    registers: dict | None = None
    bus_error: str | None = None


@dataclass
class Mismatch:
    beat: int
    cycle: int
    what: str        # "data", "last", "user", "lost", "extra" or "reordered"
    lane: int | None = None
    input: int | None = None
    expected: int | None = None
    got: int | None = None
    detail: str | None = None

    def __str__(self):
        where = f"beat {self.beat} (cycle {self.cycle})"
        if self.what == "data":
            return (f"{where}, lane {self.lane}: input {self.input}, expected {self.expected},"
                    f" got {self.got}")
        if self.what in ("last", "user"):
            return f"{where}: {self.what} expected {self.expected}, got {self.got}"
        return f"{where}: beat {self.what}" + (f" ({self.detail})" if self.detail else "")


#: Largest table of expected outputs (entries) the scoreboard builds instead of calling the
#: golden model on every beat.
_TABLE_ENTRIES = 1 << 22


def expectation(spec):
    """A function from ``(beats, lanes)`` input codes to the expected output codes.

    For inputs of up to 16 bits it looks the codes up in a table that the golden model fills
    once for every input code (one table per lane for ``prelu``, one for all lanes otherwise):
    the same answers, an order of magnitude faster on long runs."""
    fmt = spec.input_format
    distinct = spec.lanes if spec.kind == "prelu" else 1
    if fmt.width > 16 or distinct << fmt.width > _TABLE_ENTRIES:
        return lambda data: golden(spec, data)
    codes = np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)
    # The narrowest type that holds the outputs keeps the table in the CPU's caches.
    out = spec.output_format
    dtype = next(t for t in (np.int16, np.int32, np.int64)
                 if np.iinfo(t).min <= out.min_code and out.max_code <= np.iinfo(t).max)
    table = golden(spec, np.repeat(codes[:, None], spec.lanes, axis=1)).astype(dtype)
    if distinct == 1:
        column = np.ascontiguousarray(table[:, 0])
        return lambda data: np.take(column, data - fmt.min_code)
    # One row per lane, flattened: lane k's code c is entry k * 2**width + c - min_code.
    flat = np.ascontiguousarray(table.T).ravel()
    offsets = np.arange(spec.lanes) * len(codes) - fmt.min_code
    return lambda data: np.take(flat, data + offsets)


def needs_frames(spec, writes=()):
    """Whether outputs depend on more than each beat's input: per-channel slopes, or
    parameter writes."""
    return spec.channels != spec.lanes or bool(writes)


def _event_counter(spec):
    """A function from ``(beats, lanes)`` input codes to the per-lane counts of the events
    that depend on more than the input's sign and the output (``clip``, ``sat_high``,
    ``sat_low``), as a dict; from a table of every input code's events for inputs up to 16
    bits, from the golden model otherwise. Events the configuration can never have are not
    counted at all."""
    fmt = spec.input_format
    names = ("clip", "sat_high", "sat_low")
    distinct = spec.lanes if spec.kind == "prelu" else 1
    if fmt.width > 16 or distinct << fmt.width > _TABLE_ENTRIES:
        def count(data):
            _, events = FrameModel(spec).expect(data, np.ones(len(data), bool), count=False)
            return {name: events[name].sum(axis=0) for name in names}
        return count
    codes = np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)
    _, events = FrameModel(spec).expect(np.repeat(codes[:, None], spec.lanes, axis=1),
                                        np.ones(len(codes), bool), count=False)
    table = sum(events[name].astype(np.uint8) << i for i, name in enumerate(names))
    possible = [(i, name) for i, name in enumerate(names) if (table >> i & 1).any()]
    if not possible:
        return lambda data: {}
    if distinct == 1:
        column = np.ascontiguousarray(table[:, 0])
        flags = lambda data: np.take(column, data - fmt.min_code)  # noqa: E731
    else:
        flat = np.ascontiguousarray(table.T).ravel()
        offsets = np.arange(spec.lanes) * len(codes) - fmt.min_code
        flags = lambda data: np.take(flat, data + offsets)  # noqa: E731
    return lambda data: {name: ((flags(data) >> i) & 1).sum(axis=0, dtype=np.int64)
                         for i, name in possible}


class Telemetry:
    """Per-lane event counts of output beats, as the block's counters count them."""

    def __init__(self, spec):
        self._spec = spec
        self.beats = self.frames = 0
        self.counts = {name: np.zeros(spec.lanes, dtype=np.int64) for name in EVENTS}
        self.alive = np.zeros(spec.lanes, dtype=bool)

    def add(self, inputs, last, outputs, counts):
        """Count beats with ``inputs``, ``last`` and (expected) ``outputs``; ``counts`` holds
        the per-lane counts of any other events."""
        self.beats += len(inputs)
        self.frames += int(np.count_nonzero(last))
        self.counts["negative"] += (inputs < 0).sum(axis=0)
        self.counts["zero"] += (outputs == 0).sum(axis=0)
        self.alive |= (outputs != 0).any(axis=0)
        for name, value in counts.items():
            self.counts[name] += value

    def counters(self):
        """What the counter registers read: ``{register: value}`` (as
        :meth:`relu_hw.frames.FrameModel.counters`)."""
        model = FrameModel(self._spec)
        model.beats, model.frames, model.counts, model.alive = (self.beats, self.frames,
                                                                self.counts, self.alive)
        return model.counters()

    def summary(self):
        return telemetry_summary(self._spec, self.beats, self.frames, self.counts, self.alive)


class Scoreboard:
    """A sink that checks every output beat against the golden model as the run goes.

    Parameters
    ----------
    spec : Spec
    beats : int
        The input beats of the run; output beats past them are extra.
    limit : int
        How many mismatches to keep (all are counted).
    writes : list of relu_hw.frames.Write
        Parameter writes the run applies.

    Attributes
    ----------
    telemetry : Telemetry
        The events of the beats checked so far (of every input beat, when the outputs depend
        on frames).
    """

    def __init__(self, spec, beats, limit=10, writes=()):
        self._spec = spec
        self._beats = beats
        self._limit = limit
        self.telemetry = Telemetry(spec)
        if needs_frames(spec, writes):
            self._frames = FrameModel(spec, writes)
            self._expected = {}
        else:
            self._frames = None
            self._expect = expectation(spec)
            self._events = _event_counter(spec)
        self._inputs = deque()
        self.mismatches = []
        self.count = 0
        self.seen = 0
        self.latency_min = self.latency_max = None
        self._extra = None

    def inputs(self, beats):
        if self._frames is not None:
            # Frames are followed in input order; each chunk's expectation is made as it
            # comes, and its events counted.
            want, events = self._frames.expect(beats.data, beats.last, count=False)
            self._expected[beats.start] = want
            self.telemetry.add(np.asarray(beats.data), beats.last, want,
                               {name: events[name].sum(axis=0)
                                for name in ("clip", "sat_high", "sat_low")})
        self._inputs.append(beats)

    def _drop_oldest(self):
        chunk = self._inputs.popleft()
        if self._frames is not None:
            del self._expected[chunk.start]

    def outputs(self, out):
        n = len(out.data)
        expected = max(0, min(n, self._beats - out.start))
        done = 0
        while done < expected:
            position = out.start + done
            while self._inputs and self._inputs[0].stop <= position:
                self._drop_oldest()
            if not self._inputs:
                # The block put out a beat before the source had offered the input of that
                # position: a beat out of nothing. Nothing after it lines up.
                self.count += expected - done
                self._keep([Mismatch(position, int(out.out_cycle[done]), "extra")])
                break
            chunk = self._inputs[0]
            a = position - chunk.start
            k = min(expected - done, chunk.stop - position)
            self._compare(chunk, a, out, done, k)
            done += k
        if n > expected and self._extra is None:
            self._extra = Mismatch(self._beats, int(out.out_cycle[expected]), "extra")
        self.seen += n

    def _compare(self, chunk, a, out, b, k):
        inputs = chunk.data[a:a + k]
        got = out.data[b:b + k]
        sent_last, sent_user = chunk.last[a:a + k], chunk.user[a:a + k]
        if self._frames is not None:
            want = self._expected[chunk.start][a:a + k]
        else:
            want = self._expect(inputs)
            self.telemetry.add(inputs, sent_last, want, self._events(inputs))
        got_last, got_user = out.last[b:b + k], out.user[b:b + k]
        found = []
        if not (np.array_equal(got, want) and np.array_equal(sent_last, got_last)
                and np.array_equal(sent_user.astype(np.uint64), got_user.astype(np.uint64))):
            found += self._misplaced(out.start + b, out.out_cycle[b:b + k], want, sent_last,
                                     sent_user, got, got_last, got_user)
        if not np.array_equal(got, want):
            bad = np.argwhere(got != want)
            self.count += len(bad)
            for i, lane in bad[:self._limit]:
                found.append(Mismatch(out.start + b + int(i), int(out.out_cycle[b + i]), "data",
                                      int(lane), int(inputs[i, lane]), int(want[i, lane]),
                                      int(got[i, lane])))
        for what, sent, have in (("last", sent_last, got_last), ("user", sent_user, got_user)):
            if np.array_equal(sent, have):
                continue
            bad = np.flatnonzero(sent.astype(np.uint64) != have.astype(np.uint64))
            self.count += len(bad)
            for i in bad[:self._limit]:
                found.append(Mismatch(out.start + b + int(i), int(out.out_cycle[b + i]), what,
                                      expected=int(sent[i]), got=int(have[i])))
        self._keep(found)
        latency = out.out_cycle[b:b + k] - chunk.in_cycle[a:a + k]
        lo, hi = int(latency.min()), int(latency.max())
        self.latency_min = lo if self.latency_min is None else min(self.latency_min, lo)
        self.latency_max = hi if self.latency_max is None else max(self.latency_max, hi)

    def _misplaced(self, start, cycles, want, sent_last, sent_user, got, got_last, got_user):
        """At the first wrong beat, a lost, repeated or swapped beat if that is what the
        beats around it show (whole beats compared: lanes, ``last``, ``user``); else
        nothing. Reported first, before the wrong fields that follow from it."""
        def same(o, i):
            return (0 <= o < len(got) and 0 <= i < len(want) and np.array_equal(got[o], want[i])
                    and got_last[o] == sent_last[i] and int(got_user[o]) == int(sent_user[i]))
        first = next(i for i in range(len(got)) if not same(i, i))
        cycle = int(cycles[first])
        # Two beats of evidence each, so that a wrong value that happens to equal a
        # neighbour's is not taken for a misplaced beat.
        if same(first, first + 1) and same(first + 1, first):
            return [Mismatch(start + first, cycle, "reordered",
                             detail=f"beats {start + first} and {start + first + 1} came out "
                                    f"swapped")]
        if same(first, first + 1) and same(first + 1, first + 2):
            return [Mismatch(start + first, cycle, "lost",
                             detail="the beats after it come out one place early")]
        if same(first, first - 1) and same(first + 1, first):
            return [Mismatch(start + first, cycle, "extra",
                             detail=f"a repeat of beat {start + first - 1}")]
        return []

    def _keep(self, found):
        if found and len(self.mismatches) < self._limit:
            found.sort(key=lambda m: (m.beat, m.cycle))
            self.mismatches += found[:self._limit - len(self.mismatches)]

    def finish(self, end):
        """Count lost or extra beats once the run has ended (``end``, an :class:`End`);
        returns ``(mismatches, count)``."""
        found = list(self.mismatches)
        count = self.count
        if self.seen < self._beats:
            count += self._beats - self.seen
            found.append(Mismatch(self.seen, end.cycles, "lost"))
        elif self.seen > self._beats:
            count += self.seen - self._beats
            found.append(self._extra)
        found.sort(key=lambda m: (m.beat, m.cycle))
        return found[:self._limit], count


@dataclass
class Trace:
    """Everything a run produced: output beats and the cycles beats moved on."""
    data: np.ndarray        # (beats_out, lanes) output codes
    last: np.ndarray
    user: np.ndarray
    out_cycle: np.ndarray   # cycle on which each output beat was taken
    in_cycle: np.ndarray    # cycle on which each input beat was taken (-1 if never)
    cycles: int             # cycles simulated until the last output beat (inclusive)
    timed_out: bool = False


class Collector:
    """A sink that keeps every beat, for :meth:`trace` (memory grows with the run)."""

    def __init__(self, lanes):
        self._lanes = lanes
        self._inputs, self._outputs = [], []

    def inputs(self, beats):
        self._inputs.append(beats)

    def outputs(self, out):
        self._outputs.append(out)

    def trace(self, end):
        outs = self._outputs

        def joined(name, empty):
            return np.concatenate([getattr(o, name) for o in outs]) if outs else empty
        return Trace(
            data=joined("data", np.zeros((0, self._lanes), dtype=np.int64)),
            last=joined("last", np.zeros(0, dtype=bool)).astype(bool),
            user=joined("user", np.zeros(0, dtype=np.uint64)),
            out_cycle=joined("out_cycle", np.zeros(0, dtype=np.int64)),
            in_cycle=(np.concatenate([b.in_cycle for b in self._inputs]) if self._inputs
                      else np.zeros(0, dtype=np.int64)),
            cycles=end.cycles, timed_out=end.timed_out)


def check(spec, stim, trace, limit=10, writes=()):
    """Compare a whole ``trace`` of ``stim`` (run with parameter ``writes``) with the golden
    model; return ``(mismatches[:limit], count)``."""
    board = Scoreboard(spec, stim.beats, limit, writes=writes)
    board.inputs(Beats(0, np.asarray(stim.data, dtype=np.int64), np.asarray(stim.last),
                       np.asarray(stim.user), np.asarray(trace.in_cycle)))
    board.outputs(OutBeats(0, trace.data, trace.last, trace.user, trace.out_cycle))
    return board.finish(End(trace.cycles, trace.timed_out, int((trace.in_cycle >= 0).sum()),
                            len(trace.data)))
