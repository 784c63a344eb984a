# SPDX-License-Identifier: Apache-2.0
"""Simulation runs: a source, a backend and the scoreboard, streamed chunk by chunk."""

import time
from dataclasses import dataclass, field

from ..frames import parse_writes
from ..regmap import RegisterMap
from ..spec import Spec
from .amaranth import run_amaranth, stream_amaranth
from .scoreboard import Scoreboard
from .stimulus import MAX_IDLE_CYCLES, RandomStimulus
from .verilator import build_model

__all__ = ["BACKENDS", "SimReport", "simulate", "run", "stream"]

BACKENDS = ("amaranth", "verilator")


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
    stopped: str | None = None   # why the run ended before its time, if it did
    telemetry: dict | None = None        # per-lane rates of the golden model's events
    counters: dict | None = None         # registers read back from a block with control
    expected_counters: dict | None = None    # what the golden model says they read
    bus_error: str | None = None         # a register write or read that went wrong
    writes: int = 0                      # parameter writes applied

    @property
    def counter_mismatches(self):
        """Registers read back that differ from the golden model: ``[(name, expected,
        got)]``."""
        if self.counters is None:
            return []
        return [(name, want, self.counters.get(name))
                for name, want in self.expected_counters.items()
                if self.counters.get(name) != want]

    @property
    def passed(self):
        return (self.mismatch_count == 0 and self.stopped is None and self.bus_error is None
                and not self.counter_mismatches)

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

    def summary(self):
        """A few lines for people: verdict, throughput, latency, mismatches and speed."""
        lines = [
            f"{'PASS' if self.passed else 'FAIL'}: {self.beats} beats in {self.cycles} cycles "
            f"(ideal {self.ideal_cycles}), throughput {self.throughput:.3f} beats/cycle "
            f"({self.efficiency:.1%} of ideal), valid_prob {self.valid_prob}, "
            f"ready_prob {self.ready_prob}, seed {self.seed}",
            f"latency {self.latency} cycles nominal; observed min {self.latency_min}, "
            f"max {self.latency_max}",
            f"{self.mismatch_count} mismatching beat fields; simulated at "
            f"{self.beats_per_second:,.0f} beats/s ({self.seconds:.2f} s, {self.backend})",
        ]
        if self.stopped:
            lines.insert(1, f"stopped: {self.stopped}")
        lines += [f"  mismatch: {m}" for m in self.mismatches]
        if self.telemetry is not None:
            lines += _telemetry_lines(self.telemetry)
        if self.bus_error:
            lines.append(f"register bus: {self.bus_error}")
        if self.counters is not None:
            bad = self.counter_mismatches
            if not bad:
                lines.append(f"counters read over AXI4-Lite ({len(self.expected_counters)} "
                             f"registers, {self.writes} parameter writes applied) equal the "
                             f"golden model's")
            lines += [f"  counter {name}: expected {want}, read {got}"
                      for name, want, got in bad]
        return "\n".join(lines)

    def as_dict(self):
        return {
            "passed": self.passed, "backend": self.backend, "beats": self.beats,
            "cycles": self.cycles, "ideal_cycles": self.ideal_cycles,
            "throughput_beats_per_cycle": round(self.throughput, 6),
            "efficiency": round(self.efficiency, 6),
            "latency": {"nominal": self.latency, "min": self.latency_min,
                        "max": self.latency_max},
            "seed": self.seed, "valid_prob": self.valid_prob, "ready_prob": self.ready_prob,
            "stopped": self.stopped,
            "mismatch_count": self.mismatch_count,
            "mismatches": [str(m) for m in self.mismatches],
            "seconds": round(self.seconds, 3),
            "beats_per_second": round(self.beats_per_second, 1),
            "telemetry": self.telemetry,
            "counters": self.counters,
            "expected_counters": self.expected_counters,
            "counter_mismatches": [list(m) for m in self.counter_mismatches],
            "bus_error": self.bus_error,
            "writes": self.writes,
        }


def _telemetry_lines(t):
    def rates(values):
        return " ".join(f"{v:.3f}" for v in values)
    dead = ", ".join(map(str, t["dead_lanes"])) or "none"
    lines = [f"telemetry ({t['beats']} beats, {t['frames']} frames), per lane:",
             f"  sparsity (zero outputs) {rates(t['sparsity'])}",
             f"  negative inputs         {rates(t['negative'])}"]
    if any(t["clip"]):
        lines.append(f"  clipped at max_value    {rates(t['clip'])}")
    if any(t["sat_high"]) or any(t["sat_low"]):
        lines.append(f"  saturated high          {rates(t['sat_high'])}")
        lines.append(f"  saturated low           {rates(t['sat_low'])}")
    lines.append(f"  dead lanes (never non-zero): {dead}")
    return lines


def _check_backend(backend, verilog, top, dut=None):
    if backend not in BACKENDS:
        raise ValueError(f"Backend must be one of {', '.join(map(repr, BACKENDS))}, "
                         f"not {backend!r}")
    if backend == "amaranth" and (verilog is not None or top is not None):
        raise ValueError("Checking a Verilog file needs the verilator backend")
    if backend == "verilator" and dut is not None:
        raise ValueError("Running an Amaranth design needs the amaranth backend")


def stream(spec, source, sink, backend="amaranth", vcd=None, progress=None, verilog=None,
           top=None, dut=None, max_idle_cycles=MAX_IDLE_CYCLES, writes=()):
    """Run ``source`` on ``backend``, handing input and output beats to ``sink`` as they
    come; return ``(end, seconds)``: the :class:`~.scoreboard.End` of the run and how long it
    took (not counting the Verilator model's build).

    ``verilog`` (Verilator only) names a Verilog file to check instead of the generated one;
    it must follow the AXI4-Stream port convention of :mod:`relu_hw.gateware.axis`. ``top``
    names its top module when more than one module has those ports. ``dut`` (Amaranth only)
    is a design to run instead of the pipeline ``spec`` describes. A run without an output
    beat for ``max_idle_cycles`` cycles ends as stalled (the end says so). ``writes``
    (:class:`relu_hw.frames.Write`) are applied at their frames; a block with control has its
    registers read back after the run (``end.registers``).
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
    _check_backend(backend, verilog, top, dut)
    if backend == "amaranth":
        start = time.perf_counter()
        end = stream_amaranth(spec, source, sink, vcd=vcd, progress=progress, dut=dut,
                              max_idle=max_idle_cycles, writes=writes)
    else:
        # Build (or find in the cache) before the clock starts.
        model = build_model(spec, verilog=verilog, top=top, trace=vcd is not None)
        start = time.perf_counter()
        end = model.stream(source, sink, vcd=vcd, progress=progress, max_idle=max_idle_cycles,
                           writes=writes)
    return end, time.perf_counter() - start


def run(spec, stim, backend="amaranth", vcd=None, verilog=None, top=None, writes=()):
    """Run a whole ``stim`` on ``backend``; return its :class:`~.scoreboard.Trace` (memory
    grows with the run: for tests and small runs)."""
    _check_backend(backend, verilog, top)
    if backend == "amaranth":
        return run_amaranth(spec, stim, vcd=vcd, writes=writes)
    return build_model(spec, verilog=verilog, top=top, trace=vcd is not None).run(
        stim, vcd=vcd, writes=writes)


def simulate(spec, beats=1000, seed=0, valid_prob=1.0, ready_prob=1.0, vcd=None,
             progress=None, backend="amaranth", verilog=None, top=None, dut=None,
             max_idle_cycles=MAX_IDLE_CYCLES, writes=()):
    """Simulate ``spec`` cycle-accurately on random beats and check every output beat against
    the golden model, chunk by chunk: memory does not grow with ``beats``.

    Returns a :class:`SimReport`; ``report.passed`` is false on any lost, extra, reordered or
    wrong beat. ``seconds`` is the run end to end (stimulus, simulation and checking), not
    counting the Verilator model's build. ``backend``, ``verilog``, ``top``, ``dut`` and
    ``max_idle_cycles`` are as for :func:`stream`; a run that stalls or that the model stops
    does not pass, and ``report.stopped`` says why.

    ``writes`` are register writes of runtime parameters, each applied so that a given frame
    is the first computed with it: :class:`relu_hw.frames.Write` records or dicts with
    ``frame``, ``register`` and ``value`` (or ``code``), as :func:`relu_hw.frames.parse_writes`
    takes them. The report gives per-lane telemetry (sparsity, negative inputs, clips,
    saturations, dead lanes) from the golden model; a block with control has its counters
    read back over AXI4-Lite after a snapshot, and they must equal the golden model's.
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
    writes = parse_writes(spec, writes) if writes else []
    source = RandomStimulus(spec, beats, seed, valid_prob, ready_prob)
    board = Scoreboard(spec, beats, writes=writes)
    end, seconds = stream(spec, source, board, backend=backend, vcd=vcd, progress=progress,
                          verilog=verilog, top=top, dut=dut, max_idle_cycles=max_idle_cycles,
                          writes=writes)
    mismatches, count = board.finish(end)
    expected = None
    if end.registers is not None:
        expected = board.telemetry.counters()
        regmap = RegisterMap(spec)
        expected["ID"] = regmap["ID"].reset
        expected["STATUS"] = 0          # nothing pending, between frames
    return SimReport(
        beats=beats, cycles=end.cycles, latency=spec.latency,
        latency_min=-1 if board.latency_min is None else board.latency_min,
        latency_max=-1 if board.latency_max is None else board.latency_max,
        mismatches=mismatches, mismatch_count=count, seconds=seconds,
        valid_prob=source.valid_prob, ready_prob=source.ready_prob, seed=seed,
        backend=backend, stopped=end.stopped, telemetry=board.telemetry.summary(),
        counters=end.registers, expected_counters=expected, bus_error=end.bus_error,
        writes=len(writes))
