# SPDX-License-Identifier: Apache-2.0
"""Deliberate mutants of the gateware, and the checks that must catch them.

A mutant is a source-level edit: the text of a module under ``relu_hw/gateware/`` with exact
string replacements applied, executed as a fresh module object inside the ``relu_hw.gateware``
package (so its relative imports work). Production code has no seams for this. Every
replacement's anchor must occur exactly once in the current source; a refactor that removes one
fails loudly (:exc:`AnchorMissing`) instead of silently testing the unmutated design.

The checks:

``golden``
    :func:`relu_hw.sim.simulate` (the project's scoreboard against the NumPy golden model)
    at full rate and under random idle cycles and backpressure.
``axi-monitor``
    An Amaranth-simulator monitor of the output side under random handshakes: once valid is
    high it stays high with a stable payload until taken.
``comb-ready``
    For ``ready="registered"``: toggle ``o.ready`` without a clock edge and watch ``i.ready``;
    any change is a combinational path that the registered mode promises not to have.
``formal``
    The k-induction proof of :mod:`relu_hw.formal`.
"""

import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import Value
from amaranth.sim import Simulator

import relu_hw.gateware
from relu_hw.sim import simulate
from relu_hw.formal import prove
from relu_hw.spec import Spec

from .workdirs import work_dir

GATEWARE = Path(relu_hw.gateware.__file__).parent
CHECKS = ("golden", "axi-monitor", "comb-ready", "formal")


class AnchorMissing(AssertionError):
    pass


def load_mutated(module, replacements, tag):
    """Execute ``relu_hw/gateware/<module>.py`` with ``replacements`` applied, as a new module."""
    path = GATEWARE / f"{module}.py"
    source = path.read_text()
    for old, new in replacements:
        count = source.count(old)
        if count != 1:
            raise AnchorMissing(
                f"Mutant {tag!r}: anchor {old!r} occurs {count} times in {path} (expected "
                f"once); the gateware changed, so update the mutant in tests/mutants.py")
        source = source.replace(old, new)
    name = f"relu_hw.gateware._mutant_{tag}_{module}"
    mod = types.ModuleType(name)
    mod.__file__ = str(path)
    mod.__package__ = "relu_hw.gateware"
    exec(compile(source, f"<mutant {tag} of {path}>", "exec"), mod.__dict__)
    return mod


@dataclass(frozen=True)
class Mutant:
    name: str
    description: str
    module: str                 # "datapath" or "pipeline"
    replacements: tuple         # ((old, new), ...)
    config: dict                # the Spec that exposes it
    primary: str                # the check expected to catch it (others may too)

    @property
    def spec(self):
        return Spec(**self.config)

    def pipeline_class(self):
        """An ActivationPipeline class built from the mutated source."""
        if self.module == "pipeline":
            return load_mutated("pipeline", self.replacements, self.name).ActivationPipeline
        mutated = load_mutated(self.module, self.replacements, self.name)
        pipeline = load_mutated("pipeline", (), self.name)
        pipeline.LaneDatapath = mutated.LaneDatapath
        return pipeline.ActivationPipeline


MUTANTS = [
    Mutant("tie_to_odd", "half_even rounding breaks ties toward odd",
           "datapath", (('"even": self.value[k] if', '"even": ~self.value[k] if'),),
           dict(kind="relu", width=8, frac=4, out_frac=2, rounding="half_even", lanes=2),
           "golden"),
    Mutant("no_saturation", "saturate mode wraps instead",
           "datapath", (("return b.clip_above(hi, by_reset).clip_below(lo, by_reset)",
                         "return b.wrap(spec.out_width)"),),
           dict(kind="leaky_relu", width=8, frac=4, out_width=6, slope="1/4", lanes=2),
           "golden"),
    Mutant("sign_bit", "negative test reads bit width-2 instead of the sign bit",
           "datapath", (("select = ~x[-1]", "select = ~x[-2]"),),
           dict(kind="relu", width=8, frac=4, lanes=2),
           "golden"),
    Mutant("threshold_ge", "thresholded_relu compares >= instead of >",
           "datapath", (("select = x > t  # taken when true", "select = x >= t"),),
           dict(kind="thresholded_relu", width=8, frac=4, threshold="0.5", lanes=1),
           "golden"),
    Mutant("payload_unstable", "output data reads zero while the sink stalls",
           "pipeline",
           (('m.d.comb += self.o.payload.data[k].eq(out_values[f"lane{k}_y"])',
             'm.d.comb += self.o.payload.data[k].eq('
             'Mux(self.o.ready, out_values[f"lane{k}_y"], 0))'),),
           dict(kind="relu", width=8, frac=4, lanes=2), "axi-monitor"),
    Mutant("skid_drop", "the pipeline advances while the skid buffer is full: a beat is lost",
           "pipeline", (("enables = [[~full for full in skid_fulls]] * spec.stages",
                         "enables = [[full | 1 for full in skid_fulls]] * spec.stages"),
                        ("next_valids = [Mux(skid_full, valid, prev)",
                         "next_valids = [Mux(0, valid, prev)")),
           dict(kind="relu", width=8, frac=4, lanes=2, stages=2), "golden"),
    Mutant("tlast_lag", "TLAST leaves one beat late",
           "pipeline",
           (('            self.o.payload.last.eq(out_values["last"]),',
             '            self.o.payload.last.eq(lag_last),'),
            ("        m.d.comb += [\n            self.o.valid.eq(out_valid),",
             '        lag_last = Signal(name="lag_last")\n'
             "        with m.If(self.o.valid & self.o.ready):\n"
             '            m.d.sync += lag_last.eq(out_values["last"])\n'
             "        m.d.comb += [\n            self.o.valid.eq(out_valid),")),
           dict(kind="relu", width=8, frac=4, lanes=1, user_width=2), "golden"),
    Mutant("comb_ready", "registered mode drives input ready combinationally from output ready",
           "pipeline",
           (("enables = [[~full for full in skid_fulls]] * spec.stages",
             "enables = [[self.o.ready | ~valid for valid in valids[0]]]"),
            ("next_valids = [Mux(skid_full, valid, prev)",
             "next_valids = [Mux(~self.o.ready & valid, valid, prev)"),
            ("next_skid_full = ~self.o.ready & (skid_full | group_valids[-1])",
             "next_skid_full = skid_full & 0")),
           dict(kind="relu", width=8, frac=4, lanes=2, stages=1, ready="registered"),
           "comb-ready"),
    Mutant("stall_overwrite", "a stage advances even when its successor stalls",
           "pipeline", (("ready = ~valid | ready", "ready = ~valid | 1"),),
           dict(kind="relu", width=8, frac=4, lanes=1, stages=2, ready="combinational"),
           "golden"),
    Mutant("valid_waits", "output valid waits for output ready",
           "pipeline", (("self.o.valid.eq(out_valid),",
                         "self.o.valid.eq(out_valid & self.o.ready),"),),
           dict(kind="relu", width=8, frac=4, lanes=1, stages=2), "formal"),
    # Table kinds: a table shifted by one code, and the bound's comparator off by one.
    Mutant("table_shifted", "each table entry stored at the next code's word",
           "datapath", (("port.addr.eq((x - t.bound)[:address_bits])",
                         "port.addr.eq((x - t.bound + 1)[:address_bits])"),),
           dict(kind="elu", width=8, frac=4, rounding="half_even", lanes=2), "golden"),
    Mutant("bound_off_by_one", "the code at the bound takes the constant too",
           "datapath", (("choose(x < t.bound,", "choose(x <= t.bound,"),),
           dict(kind="elu", width=8, frac=4, rounding="floor", lanes=1), "golden"),
]


def check_golden(spec, cls, beats=300, seed=1):
    """:func:`relu_hw.sim.simulate` at full rate and under random handshakes; a list of
    failure descriptions (empty when both pass)."""
    problems = []
    for vp, rp in ((1.0, 1.0), (0.7, 0.5)):
        result = simulate(spec, beats=beats, seed=seed, valid_prob=vp, ready_prob=rp,
                          dut=cls(spec))
        if not result.passed:
            problems.append(f"valid_prob {vp}, ready_prob {rp}: "
                            f"{result.mismatch_count} mismatches, first "
                            f"{result.mismatches[0] if result.mismatches else '?'}")
    return problems


def check_axi_monitor(spec, cls, cycles=400, seed=2):
    """Watch the output for AXI4-Stream violations under random valid/ready."""
    dut = cls(spec)
    rng = np.random.default_rng(seed)
    i_payload, o_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    width = i_payload.shape().width
    problems = []

    async def source(ctx):
        offering = False
        for _ in range(cycles):
            if not offering and rng.random() < 0.7:
                ctx.set(i_payload, int(rng.integers(0, 1 << width)))
                offering = True
            ctx.set(dut.i.valid, offering)
            _, _, ready = await ctx.tick().sample(dut.i.ready)
            if offering and ready:
                offering = False

    async def sink(ctx):
        prev = None   # (payload) of a beat offered and not taken on the previous cycle
        for c in range(cycles):
            ready = bool(rng.random() < 0.4)
            ctx.set(dut.o.ready, ready)
            _, _, valid, payload = await ctx.tick().sample(dut.o.valid, o_payload)
            if prev is not None and not valid:
                problems.append(f"cycle {c}: valid dropped before the beat was taken")
            if prev is not None and valid and payload != prev:
                problems.append(f"cycle {c}: payload changed while stalled")
            prev = payload if valid and not ready else None

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()
    return problems[:3]


def check_comb_ready(spec, cls, cycles=200, seed=3):
    """With ``ready="registered"``, toggling ``o.ready`` between clock edges must not move
    ``i.ready``. (Combinational mode allows the path; nothing to check.)"""
    if spec.ready != "registered":
        return []
    dut = cls(spec)
    rng = np.random.default_rng(seed)
    problems = []

    async def bench(ctx):
        ctx.set(dut.i.valid, 1)
        for c in range(cycles):
            ready = bool(rng.random() < 0.5)
            ctx.set(dut.o.ready, ready)
            before = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, not ready)
            after = ctx.get(dut.i.ready)
            ctx.set(dut.o.ready, ready)
            if before != after:
                problems.append(f"cycle {c}: i.ready follows o.ready combinationally")
                return
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return problems


def check_formal(spec, cls, name, workdir=None):
    result = prove(spec, name=name, workdir=workdir, dut=cls(spec))
    if result.passed:
        return []
    return [f"{result.status}: {', '.join(result.failed) or result.log_tail[-300:]}"]


def run_checks(spec, cls, name, workdir=None):
    """``{check: [problems]}`` for every check in :data:`CHECKS`."""
    return {
        "golden": check_golden(spec, cls),
        "axi-monitor": check_axi_monitor(spec, cls),
        "comb-ready": check_comb_ready(spec, cls),
        "formal": check_formal(spec, cls, name, workdir),
    }


def mutation_table(results):
    """A Markdown table from ``{mutant name: {check: [problems]}}``."""
    rows = ["| mutant | what it breaks | caught by | formal properties that failed |",
            "|---|---|---|---|"]
    for mu in MUTANTS:
        if mu.name in results:
            found = results[mu.name]
            caught = [c for c in CHECKS if found[c]]
            props = found["formal"][0].split(": ", 1)[-1] if found["formal"] else "-"
            rows.append(f"| {mu.name} | {mu.description} | {', '.join(caught) or 'NOTHING'} "
                        f"| {props} |")
    return "\n".join(rows)


if __name__ == "__main__":
    # python -m tests.mutants: run every check on every mutant and print the table.
    workdir = work_dir("mutation")
    results = {mu.name: run_checks(mu.spec, mu.pipeline_class(), f"mutant_{mu.name}", workdir)
               for mu in MUTANTS}
    print(mutation_table(results))
