# SPDX-License-Identifier: Apache-2.0
"""Stimulus: the input beats and handshake patterns of a run, made chunk by chunk, and the
cycle rules every backend follows.

Cycle rules
-----------
Cycle ``c`` counts rising clock edges after reset. On cycle ``c`` the source offers its next
beat if the valid pattern says so (and, once it offers a beat, keeps offering it until it is
taken, as AXI4-Stream requires), and the sink is ready if the ready pattern says so. Past the
end of the patterns (:attr:`pattern_length` cycles) the source is always willing and the sink
always ready, so every run ends. The source offers no new beat from :func:`deadline` on; after
the last expected output beat the sink watches :func:`watch` more cycles for extra beats; at
:func:`horizon` the run gives up. A run also ends, as a failure, after ``max_idle`` cycles
without an output beat (:data:`MAX_IDLE_CYCLES` unless told otherwise): a block that never
answers, or a sink that is never ready, is reported, not waited for.

Register writes
---------------
A block with control takes parameter writes (:class:`relu_hw.frames.Write`), each for the frame
that is the first to be computed with it, issued in frame order on AXI4-Lite: a write for frame
``f`` starts on the first cycle on which the previous write's response has been taken and
(unless ``f`` is 0) the first beat of frame ``f - 1`` has been taken, both on earlier cycles;
AWVALID and WVALID rise together, each falling after its own handshake; BREADY is always high.
The source offers no beat of frame ``f`` until every write for frames up to ``f`` has had its
response, so the block's frame-boundary rule, not the timing, decides which frame a write
reaches. After the run, the bus writes CONTROL.SNAPSHOT and reads the registers of
:func:`readback_registers` one at a time (RREADY always high).

Sources
-------
A source has ``beats``, ``pattern_length``, and two iterators: :meth:`beat_chunks` yields
:class:`Beats` in order and :meth:`pattern_chunks` yields ``(start, valid, ready)`` for the
cycles below ``pattern_length``. :class:`Stimulus` holds arrays; :class:`RandomStimulus` makes
its chunks as they are asked for, so a run of any length takes the memory of a few chunks, and
gives exactly the arrays that :func:`make_stimulus` gives for the same seed.
"""

from dataclasses import dataclass

import numpy as np
from numpy.random import PCG64, Generator

from ..regmap import RegisterMap

__all__ = ["Beats", "Stimulus", "RandomStimulus", "make_stimulus", "edge_codes", "deadline",
           "horizon", "watch", "stall_message", "check_max_idle", "bus_writes",
           "readback_registers", "DEADLINE_MARGIN", "EXTRA_WATCH", "LAST_PROBABILITY",
           "MAX_IDLE_CYCLES", "BUS_TIMEOUT"]

#: Cycles the source may still offer beats after the patterns end and every beat could have
#: gone through: past this, the run is stuck.
DEADLINE_MARGIN = 16
#: Cycles beyond the latency that the sink watches for extra beats after the last expected one.
EXTRA_WATCH = 4
#: Probability that a random beat carries TLAST (the last beat always does).
LAST_PROBABILITY = 0.125
#: Most beats a run may have, and the most cycles anything counts: far beyond what a run
#: could reach, well inside the 64-bit counters of the Verilator harness.
MAX_BEATS = 10 ** 15
MAX_CYCLES = 1 << 62
#: Cycles without an output beat after which a run ends as stalled. A correct block puts a
#: beat out within its latency of the sink being ready; at a valid or ready probability of
#: 1e-3 the longest gap in a million beats is about 2e4 cycles.
MAX_IDLE_CYCLES = 100_000


#: Cycles a register read or write after the run may take before the run reports the bus
#: stuck.
BUS_TIMEOUT = 1000


def bus_writes(spec, writes):
    """``writes`` (:class:`relu_hw.frames.Write`, in frame order) as ``(frame, byte address,
    32-bit data)`` for the bus."""
    if not writes:
        return []
    regmap = RegisterMap(spec)
    out = []
    for w in writes:
        reg = regmap[w.register]
        out.append((w.frame, reg.offset, reg.fields[0].bits(w.code)))
    return out


def readback_registers(spec):
    """``[(name, byte address)]`` of the registers read back after a run: ``ID``,
    ``STATUS``, then the telemetry (``FRAMES``, ``BEATS``, ``ALIVE`` and the per-lane
    counters); empty without control."""
    if spec.control == "none":
        return []
    regmap = RegisterMap(spec)
    return [(r.name, r.offset) for r in regmap
            if r.name in ("ID", "STATUS") or r.kind in ("counter", "alive")]


def deadline(pattern_length, beats, latency):
    """The first cycle on which the source offers no new beat."""
    return pattern_length + beats + latency + DEADLINE_MARGIN


def watch(latency):
    """Cycles watched for extra beats after the last expected output beat."""
    return latency + EXTRA_WATCH


def horizon(pattern_length, beats, latency):
    """The cycle at which a run that has not delivered every beat gives up."""
    return deadline(pattern_length, beats, latency) + watch(latency)


def check_max_idle(max_idle):
    """``max_idle`` as an int; :exc:`ValueError` unless it is a positive integer (numbers
    past :data:`MAX_CYCLES` mean "never")."""
    if isinstance(max_idle, bool) or not isinstance(max_idle, int) or max_idle < 1:
        raise ValueError(f"Idle cycle limit must be a positive integer, not {max_idle!r}")
    return min(max_idle, MAX_CYCLES)


def stall_message(cycles, since, offered, ready):
    """Why a run that saw no output beat for ``cycles`` cycles from cycle ``since`` ended; the
    source offered a beat on ``offered`` of them and the sink was ready on ``ready``."""
    hint = ""
    if not offered or not ready:
        side = "valid" if not offered else "ready"
        hint = f"; raise the {side} probability, or the idle cycle limit, to wait longer"
    return (f"no output beat in {cycles:,} cycles (from cycle {since:,}); the source offered a "
            f"beat on {offered:,} of them and the sink was ready on {ready:,}{hint}")


@dataclass
class Beats:
    """Input beats ``start`` to ``start + len(data) - 1``: ``data`` is ``(beats, lanes)``
    codes (a NumPy integer array), ``last`` bool, ``user`` uint64. ``in_cycle`` receives the cycle
    each beat is taken on (-1 until then); a backend fills it in."""
    start: int
    data: np.ndarray
    last: np.ndarray
    user: np.ndarray
    in_cycle: np.ndarray = None

    def __post_init__(self):
        if self.in_cycle is None:
            self.in_cycle = np.full(len(self.data), -1, dtype=np.int64)

    @property
    def stop(self):
        return self.start + len(self.data)


def _check_prob(p, name):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"{name} must be a probability in (0, 1], not {p!r}")
    return float(p)


@dataclass
class Stimulus:
    """Input beats and handshake patterns held as arrays.

    ``data`` is ``(beats, lanes)`` codes; ``last`` (bool) and ``user`` (uint64) are
    ``(beats,)``; ``valid_pattern`` and ``ready_pattern`` are per-cycle booleans, each as long
    as it likes (past its end it reads true).
    """
    data: np.ndarray
    last: np.ndarray
    user: np.ndarray
    valid_pattern: np.ndarray
    ready_pattern: np.ndarray

    @property
    def beats(self):
        return len(self.data)

    @property
    def pattern_length(self):
        return max(len(self.valid_pattern), len(self.ready_pattern))

    def beat_chunks(self, size):
        data = np.asarray(self.data, dtype=np.int64)
        last = np.asarray(self.last, dtype=bool)
        user = np.asarray(self.user).astype(np.uint64)
        for start in range(0, self.beats, size):
            stop = min(start + size, self.beats)
            yield Beats(start, data[start:stop], last[start:stop], user[start:stop])

    def pattern_chunks(self, size):
        length = self.pattern_length

        def padded(pattern, start, stop):
            out = np.ones(stop - start, dtype=bool)
            part = np.asarray(pattern[start:stop], dtype=bool)
            out[:len(part)] = part
            return out
        for start in range(0, length, size):
            stop = min(start + size, length)
            yield (start, padded(self.valid_pattern, start, stop),
                   padded(self.ready_pattern, start, stop))


def edge_codes(spec):
    """Input codes where bugs live: the ends of the range, zero, and both sides of every
    threshold the datapath has."""
    fmt = spec.input_format
    codes = {fmt.min_code, fmt.min_code + 1, -1, 0, 1, fmt.max_code - 1, fmt.max_code}
    if spec.threshold_q is not None:
        t = spec.threshold_q.code
        codes |= {t - 1, t, t + 1}
    if spec.max_value_q is not None:
        # Input codes next to the clip, on the positive side.
        shift = spec.out_frac - spec.frac
        m = spec.max_value_q.code
        c = m << -shift if shift <= 0 else m >> shift
        codes |= {c - 1, c, c + 1}
    return sorted(c for c in codes if fmt.min_code <= c <= fmt.max_code)


class RandomStimulus:
    """Seeded random beats (the first ones :func:`edge_codes` in every lane) and handshake
    patterns, made a chunk at a time.

    The numbers are those of one NumPy generator seeded with ``seed`` drawing, in this order,
    the data of every beat, the ``last`` flags, the ``user`` values, the valid pattern and the
    ready pattern. Each part starts its own copy of the generator at the point where that part
    begins (PCG64 can jump ahead), so chunks come out in any size, in order, with the same
    numbers as one draw of everything.

    Parameters
    ----------
    spec : Spec
    beats : int
        Input beats, at least 1.
    seed : int
    valid_prob, ready_prob : float
        Probability in (0, 1] that the source offers a beat, and that the sink is ready, on a
        cycle of the patterns. The patterns cover ``beats / min(valid_prob, ready_prob) +
        latency + 64`` cycles, enough for the expected run.
    """

    def __init__(self, spec, beats=1000, seed=0, valid_prob=1.0, ready_prob=1.0):
        if isinstance(beats, bool) or not isinstance(beats, int) or not 1 <= beats <= MAX_BEATS:
            raise ValueError(f"Beat count must be an integer from 1 to {MAX_BEATS:.0e}, not "
                             f"{beats!r}")
        self.valid_prob = _check_prob(valid_prob, "Source valid probability")
        self.ready_prob = _check_prob(ready_prob, "Sink ready probability")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"Seed must be a non-negative integer, not {seed!r}")
        self.spec, self.beats, self.seed = spec, beats, seed
        # Patterns of more than MAX_CYCLES (a probability near zero) could never be drawn in
        # one go; they are cut there.
        self.pattern_length = min(int(beats / min(self.valid_prob, self.ready_prob))
                                  + spec.latency + 64, MAX_CYCLES)

    # Where each part of the one generator's stream begins, in 64-bit draws. The data take
    # one 32-bit half of a draw per code (widths up to 32 bits), the last flags one draw each,
    # the user values one half each up to 32 bits (starting with the half the data may have
    # left over) or one draw each above; the patterns one draw per cycle.
    def _generator(self, draws, half=None):
        bits = PCG64(self.seed)
        bits.advance(draws % (1 << 128))    # the period: a jump past it wraps, as drawing would
        if half is not None:
            state = bits.state
            state["has_uint32"], state["uinteger"] = 1, half
            bits.state = state
        return Generator(bits)

    def _layout(self):
        codes = self.beats * self.spec.lanes
        data_draws = -(-codes // 2)
        user_start = data_draws + self.beats
        left_over = None
        width = self.spec.user_width
        if width == 0:
            user_draws = 0
        elif width <= 32:
            if codes % 2:
                spare = PCG64(self.seed)
                spare.advance(data_draws - 1)
                left_over = int(spare.random_raw()) >> 32
            user_draws = -(-(self.beats - (left_over is not None)) // 2)
        else:
            user_draws = self.beats
        valid_start = user_start + user_draws
        return data_draws, user_start, left_over, valid_start, valid_start + self.pattern_length

    def beat_chunks(self, size):
        spec = self.spec
        fmt = spec.input_format
        data_draws, user_start, left_over, _, _ = self._layout()
        data_gen = self._generator(0)
        last_gen = self._generator(data_draws)
        user_gen = self._generator(user_start, left_over) if spec.user_width else None
        # int32 draws the same numbers as the default int64, with less memory traffic; an
        # unsigned 32-bit format needs uint32, which draws one 32-bit half per code too.
        dtype = np.int32 if fmt.max_code < 1 << 31 else np.uint32
        edges = np.array(edge_codes(spec), dtype=dtype)
        for start in range(0, self.beats, size):
            count = min(size, self.beats - start)
            data = data_gen.integers(fmt.min_code, fmt.max_code, size=(count, spec.lanes),
                                     endpoint=True, dtype=dtype)
            if start < len(edges):
                n = min(count, len(edges) - start)
                data[:n] = edges[start:start + n, None]
            last = last_gen.random(count) < LAST_PROBABILITY
            if start + count == self.beats:
                last[-1] = True
            # uint64 holds every user width up to the 64-bit maximum.
            user = (user_gen.integers(0, 1 << spec.user_width, size=count, dtype=np.uint64)
                    if user_gen is not None else np.zeros(count, dtype=np.uint64))
            yield Beats(start, data, last, user)

    def pattern_chunks(self, size):
        _, _, _, valid_start, ready_start = self._layout()
        valid_gen, ready_gen = self._generator(valid_start), self._generator(ready_start)
        for start in range(0, self.pattern_length, size):
            count = min(size, self.pattern_length - start)
            yield (start, valid_gen.random(count) < self.valid_prob,
                   ready_gen.random(count) < self.ready_prob)

    def materialize(self):
        """The whole stimulus as a :class:`Stimulus` (memory grows with the beats)."""
        beats = list(self.beat_chunks(self.beats))[0]
        _, valid, ready = list(self.pattern_chunks(self.pattern_length))[0]
        return Stimulus(beats.data, beats.last, beats.user, valid, ready)


def make_stimulus(spec, beats=1000, seed=0, valid_prob=1.0, ready_prob=1.0):
    """Random beats (preceded by :func:`edge_codes` in every lane) and seeded patterns, as a
    :class:`Stimulus`: :class:`RandomStimulus` made whole."""
    return RandomStimulus(spec, beats, seed, valid_prob, ready_prob).materialize()
