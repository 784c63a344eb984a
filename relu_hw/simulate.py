# SPDX-License-Identifier: Apache-2.0
"""Cycle-accurate simulation against the golden model.

A run is defined by a :class:`Stimulus`: the input beats and two per-cycle patterns. Cycle ``c``
counts rising clock edges after reset; on cycle ``c`` the source offers its next beat if
``valid_pattern[c]`` (and, once it offers a beat, keeps offering it until it is taken, as
AXI4-Stream requires), and the sink is ready if ``ready_pattern[c]``. Past the end of a pattern
the source is always willing and the sink always ready, so every run ends.

The scoreboard (:func:`check`) compares every output beat, in order, with the golden model:
lanes, ``last`` and ``user``; it reports lost, extra and mismatching beats.
"""

import time
from dataclasses import dataclass, field

import numpy as np
from amaranth.hdl import Value
from amaranth.sim import Simulator

from .gateware import ActivationPipeline
from .golden import golden

__all__ = ["Stimulus", "Trace", "SimReport", "make_stimulus", "run_amaranth", "check",
           "simulate", "pack_lanes", "unpack_lanes"]


@dataclass
class Stimulus:
    """Input beats and handshake patterns for one run.

    ``data`` is ``(beats, lanes)`` signed codes; ``last`` (bool) and ``user`` (uint64) are
    ``(beats,)``;
    ``valid_pattern`` and ``ready_pattern`` are per-cycle booleans.
    """
    data: np.ndarray
    last: np.ndarray
    user: np.ndarray
    valid_pattern: np.ndarray
    ready_pattern: np.ndarray

    @property
    def beats(self):
        return len(self.data)


@dataclass
class Trace:
    """What a simulation produced: output beats and the cycles beats moved on."""
    data: np.ndarray        # (beats_out, lanes) signed output codes
    last: np.ndarray
    user: np.ndarray
    out_cycle: np.ndarray   # cycle on which each output beat was taken
    in_cycle: np.ndarray    # cycle on which each input beat was taken (-1 if never)
    cycles: int             # cycles simulated until the last output beat (inclusive)
    timed_out: bool = False


@dataclass
class Mismatch:
    beat: int
    cycle: int
    what: str        # "data", "last", "user", "lost" or "extra"
    lane: int | None = None
    input: int | None = None
    expected: int | None = None
    got: int | None = None

    def __str__(self):
        where = f"beat {self.beat} (cycle {self.cycle})"
        if self.what == "data":
            return (f"{where}, lane {self.lane}: input {self.input}, expected {self.expected},"
                    f" got {self.got}")
        if self.what in ("last", "user"):
            return f"{where}: {self.what} expected {self.expected}, got {self.got}"
        return f"{where}: beat {self.what}"


@dataclass
class SimReport:
    """Outcome of a simulation run."""
    beats: int
    cycles: int
    latency: int             # the pipeline's nominal latency
    latency_min: int         # observed, from input transfer to output transfer
    latency_max: int
    mismatches: list = field(default_factory=list)
    mismatch_count: int = 0
    seconds: float = 0.0
    valid_prob: float = 1.0
    ready_prob: float = 1.0
    seed: int = 0
    backend: str = "amaranth"

    @property
    def passed(self):
        return self.mismatch_count == 0

    @property
    def ideal_cycles(self):
        """Cycles the beats would take with an always-valid source and always-ready sink."""
        return self.beats + self.latency

    @property
    def throughput(self):
        """Beats per cycle."""
        return self.beats / self.cycles if self.cycles else 0.0

    @property
    def efficiency(self):
        """Achieved throughput relative to the ideal (1.0 is full rate)."""
        return self.ideal_cycles / self.cycles if self.cycles else 0.0

    @property
    def beats_per_second(self):
        return self.beats / self.seconds if self.seconds else 0.0

    def as_dict(self):
        return {
            "passed": self.passed, "backend": self.backend, "beats": self.beats,
            "cycles": self.cycles, "ideal_cycles": self.ideal_cycles,
            "throughput_beats_per_cycle": round(self.throughput, 6),
            "efficiency": round(self.efficiency, 6),
            "latency": {"nominal": self.latency, "min": self.latency_min,
                        "max": self.latency_max},
            "seed": self.seed, "valid_prob": self.valid_prob, "ready_prob": self.ready_prob,
            "mismatch_count": self.mismatch_count,
            "mismatches": [str(m) for m in self.mismatches],
            "seconds": round(self.seconds, 3),
            "beats_per_second": round(self.beats_per_second, 1),
        }


def _check_prob(p, name):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 < p <= 1:
        raise ValueError(f"{name} must be a probability in (0, 1], not {p!r}")
    return float(p)


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


def make_stimulus(spec, beats=1000, seed=0, valid_prob=1.0, ready_prob=1.0):
    """Random beats (preceded by :func:`edge_codes` in every lane) and seeded patterns."""
    if isinstance(beats, bool) or not isinstance(beats, int) or beats < 1:
        raise ValueError(f"Beat count must be a positive integer, not {beats!r}")
    valid_prob = _check_prob(valid_prob, "Source valid probability")
    ready_prob = _check_prob(ready_prob, "Sink ready probability")
    rng = np.random.default_rng(seed)
    fmt = spec.input_format
    data = rng.integers(fmt.min_code, fmt.max_code, size=(beats, spec.lanes), endpoint=True)
    edges = np.array(edge_codes(spec))
    n = min(beats, len(edges))
    data[:n] = edges[:n, None]
    last = rng.random(beats) < 0.125
    last[-1] = True
    # uint64 holds every user width up to the 64-bit maximum.
    user = rng.integers(0, 1 << spec.user_width, size=beats, dtype=np.uint64)
    # Enough pattern to cover the expected run; past it everything flows.
    length = int(beats / min(valid_prob, ready_prob)) + spec.latency + 64
    return Stimulus(
        data=data.astype(np.int64), last=last, user=user,
        valid_pattern=rng.random(length) < valid_prob,
        ready_pattern=rng.random(length) < ready_prob,
    )


def pack_lanes(data, width):
    """Pack ``(beats, lanes)`` signed codes into one Python integer per beat, lane 0 lowest."""
    data = np.asarray(data, dtype=object)
    mask = (1 << width) - 1
    shifts = np.array([1 << (width * k) for k in range(data.shape[1])], dtype=object)
    return ((data & mask) * shifts).sum(axis=1)


def unpack_lanes(words, width, lanes):
    """Inverse of :func:`pack_lanes`: integers to ``(beats, lanes)`` signed codes."""
    words = np.asarray(words, dtype=object).reshape(-1, 1)
    shifts = np.array([width * k for k in range(lanes)], dtype=object)
    mask = (1 << width) - 1
    u = ((words >> shifts) & mask).astype(np.int64)
    return np.where(u >= 1 << (width - 1), u - (1 << width), u)


def run_amaranth(spec, stim, vcd=None, progress=None):
    """Run ``stim`` through :class:`ActivationPipeline` on Amaranth's simulator.

    ``progress``, if given, is called with the number of output beats received so far every
    1024 beats.
    """
    dut = ActivationPipeline(spec)
    i_layout, o_layout = dut.i.payload.shape(), dut.o.payload.shape()
    at_last, at_user = i_layout["last"].offset, (i_layout["user"].offset if spec.user_width
                                                 else 0)
    in_words = [int(w) | (int(l) << at_last) | (int(u) << at_user)
                for w, l, u in zip(pack_lanes(stim.data, spec.width), stim.last, stim.user)]
    n = stim.beats
    vpat = stim.valid_pattern.tolist()
    rpat = stim.ready_pattern.tolist()
    # After the patterns end, everything flows: n beats, the latency and a margin suffice.
    deadline = max(len(vpat), len(rpat)) + n + spec.latency + 16
    i_payload, o_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    in_cycle = [-1] * n
    out_words, out_cycle = [], []
    state = {"cycles": 0, "timed_out": False}

    async def producer(ctx):
        sent, offering, c = 0, False, 0

        def drive():
            # Offer the next beat if the pattern says so; keep offering it until taken.
            nonlocal offering
            if sent < n and not offering and (c >= len(vpat) or vpat[c]):
                ctx.set(i_payload, in_words[sent])
                offering = True
            ctx.set(dut.i.valid, offering)

        drive()
        async for _, _, ready in ctx.tick().sample(dut.i.ready):
            if offering and ready:
                in_cycle[sent] = c
                sent, offering = sent + 1, False
            c += 1
            if sent == n or c >= deadline:
                break
            drive()
        ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        c, stop = 0, deadline + spec.latency + 4
        ready = 0 >= len(rpat) or rpat[0]
        ctx.set(dut.o.ready, ready)
        async for _, _, valid, payload in ctx.tick().sample(dut.o.valid, o_payload):
            if valid and ready:
                out_words.append(payload)
                out_cycle.append(c)
                if progress is not None and len(out_words) % 1024 == 0:
                    progress(len(out_words))
                if len(out_words) == n:
                    state["cycles"] = c + 1
                    # Keep watching a little longer, to catch extra beats.
                    stop = min(stop, c + spec.latency + 4)
            c += 1
            if c >= stop:
                break
            ready = c >= len(rpat) or rpat[c]
            ctx.set(dut.o.ready, ready)
        if len(out_words) < n:
            state["cycles"], state["timed_out"] = c, True

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    if vcd:
        with sim.write_vcd(str(vcd)):
            sim.run()
    else:
        sim.run()

    at_last = o_layout["last"].offset
    at_user, user_mask = ((o_layout["user"].offset, (1 << spec.user_width) - 1)
                          if spec.user_width else (0, 0))
    words = np.array(out_words, dtype=object)
    return Trace(
        data=unpack_lanes(words & ((1 << o_layout["data"].offset + o_layout["data"].width) - 1),
                          spec.out_width, spec.lanes)
        if len(words) else np.zeros((0, spec.lanes), dtype=np.int64),
        last=np.array([bool(w >> at_last & 1) for w in out_words], dtype=bool),
        user=np.array([w >> at_user & user_mask for w in out_words], dtype=np.uint64),
        out_cycle=np.array(out_cycle, dtype=np.int64),
        in_cycle=np.array(in_cycle, dtype=np.int64),
        cycles=state["cycles"],
        timed_out=state["timed_out"],
    )


def check(spec, stim, trace, limit=10):
    """Compare ``trace`` with the golden model; return ``(mismatches[:limit], count)``."""
    expected = golden(spec, stim.data)
    n, got = stim.beats, len(trace.data)
    k = min(n, got)
    found = []
    differ = trace.data[:k] != expected[:k]
    bad_data = np.argwhere(differ) if differ.any() else np.zeros((0, 2), dtype=np.int64)
    for beat, lane in bad_data[:limit]:
        found.append(Mismatch(int(beat), int(trace.out_cycle[beat]), "data", int(lane),
                              int(stim.data[beat, lane]), int(expected[beat, lane]),
                              int(trace.data[beat, lane])))
    count = len(bad_data)
    for what, want, have in (("last", stim.last, trace.last), ("user", stim.user, trace.user)):
        bad = np.flatnonzero(want[:k].astype(np.uint64) != have[:k].astype(np.uint64))
        count += len(bad)
        for beat in bad[:limit]:
            found.append(Mismatch(int(beat), int(trace.out_cycle[beat]), what,
                                  expected=int(want[beat]), got=int(have[beat])))
    if got < n:
        count += n - got
        found.append(Mismatch(got, trace.cycles, "lost"))
    elif got > n:
        count += got - n
        found.append(Mismatch(n, int(trace.out_cycle[n]), "extra"))
    found.sort(key=lambda m: (m.beat, m.cycle))
    return found[:limit], count


def report(spec, stim, trace, seconds, seed, valid_prob, ready_prob, backend):
    """Score ``trace`` and summarise it as a :class:`SimReport`."""
    mismatches, count = check(spec, stim, trace)
    k = min(stim.beats, len(trace.out_cycle))
    lat = trace.out_cycle[:k] - trace.in_cycle[:k]
    return SimReport(
        beats=stim.beats, cycles=trace.cycles, latency=spec.latency,
        latency_min=int(lat.min()) if k else -1, latency_max=int(lat.max()) if k else -1,
        mismatches=mismatches, mismatch_count=count, seconds=seconds,
        valid_prob=valid_prob, ready_prob=ready_prob, seed=seed, backend=backend)


BACKENDS = ("amaranth", "verilator")


def run(spec, stim, backend="amaranth", vcd=None, progress=None, verilog=None, top=None):
    """Run ``stim`` on ``backend``; return its :class:`Trace` and the seconds the run took
    (not counting elaboration or compilation).

    ``verilog`` (Verilator only) names a Verilog file to check instead of the generated one;
    it must follow the AXI4-Stream port convention of :mod:`relu_hw.gateware.axis`. ``top``
    names its top module when more than one module has those ports.
    """
    if backend == "amaranth":
        if verilog is not None or top is not None:
            raise ValueError("Checking a Verilog file needs the verilator backend")
        start = time.perf_counter()
        trace = run_amaranth(spec, stim, vcd=vcd, progress=progress)
        return trace, time.perf_counter() - start
    if backend == "verilator":
        from .verilator import build_model
        # Build (or find in the cache) before the clock starts: the rate is the run's.
        model = build_model(spec, verilog=verilog, top=top, trace=vcd is not None)
        start = time.perf_counter()
        trace = model.run(stim, vcd=vcd)
        return trace, time.perf_counter() - start
    raise ValueError(f"Backend must be one of {', '.join(map(repr, BACKENDS))}, "
                     f"not {backend!r}")


def simulate(spec, beats=1000, seed=0, valid_prob=1.0, ready_prob=1.0, vcd=None,
             progress=None, backend="amaranth", verilog=None, top=None):
    """Simulate ``spec`` cycle-accurately on random beats and check every output beat.

    Returns a :class:`SimReport`; ``report.passed`` is false on any lost, extra, reordered or
    wrong beat.
    """
    stim = make_stimulus(spec, beats, seed, valid_prob, ready_prob)
    trace, seconds = run(spec, stim, backend=backend, vcd=vcd, progress=progress,
                         verilog=verilog, top=top)
    return report(spec, stim, trace, seconds, seed, valid_prob, ready_prob, backend)
