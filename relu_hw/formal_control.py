# SPDX-License-Identifier: Apache-2.0
"""Unbounded formal proofs of what control adds: the AXI4-Lite slave's handshake rules, the
frame rule of runtime parameters, and the telemetry counters.

The stream's own properties with control present, and the output of each beat with the
parameters it travels with, are proven by :class:`relu_hw.formal.FormalHarness` on
:class:`~relu_hw.gateware.control.ControlledActivation` (its bus left free: any input on any
cycle) and on :class:`~relu_hw.gateware.ActivationPipeline` with parameters and events. The
:class:`ControlHarness` here adds, for every input sequence that follows the AXI4-Stream and
AXI4-Lite master rules (a valid holds, with its address or data, until taken):

1. **AXI4-Lite.** BVALID holds with BRESP until BREADY, RVALID with RDATA and RRESP until
   RREADY; a response never comes without its request (write address and data both taken, or
   read address taken), and at most one of each is outstanding; BRESP is SLVERR exactly when
   the address is not a writable register of the map (or a slope written in part), RRESP
   exactly when it is unmapped; ID and CONFIG read their values, CONTROL reads 0.
2. **Frames.** Every beat of a frame enters the pipeline with the parameters of the frame's
   first beat; the active slope memory is never written inside a frame; writes wait only
   inside a frame, and with none waiting the active parameters are those last written.
3. **Counters.** Each counter (``FRAMES``, ``BEATS``, the per-lane ones) equals the number of
   output beats with its event since the last clear, up to its largest value, where it stays;
   ``ALIVE`` is set by a non-zero output since the last clear; each shadow holds the value at
   the last snapshot. A counter is segments with pending carries between them: its value,
   segments plus carries (or the largest value once its saturation flag is set), is what is
   proven, and a snapshot's shadow holds that value exactly for the events up to the
   snapshot's cycle (the read path adds the carries in). The events are those of the output
   beats (which :func:`relu_hw.formal.events_hold` proves right for each beat's input).

Counters are built ``counter_bits`` wide for the proofs (3 by default), so that saturation is
reached within the induction depth.
"""

from amaranth.asserts import AnySeq
from amaranth.hdl import (Assume, Cat, Const, Module, Mux, Signal,
                          Value)

from .formal import _ELABORATE, FORMAL_CONFIGS, FormalHarness, _Harness, prove
from .gateware import ActivationPipeline
from .gateware.axil import OKAY, SLVERR
from .gateware.control import EVENT_LATENCY, ControlledActivation
from .gateware.datapath import EVENT_FLAGS
from .regmap import RegisterMap
from .spec import Spec
from .tools import run_parallel

__all__ = ["ControlHarness", "CONTROL_PROOFS", "PROOFS", "harness_for", "prove_control",
           "prove_named", "prove_spec"]

#: Counter width in the proofs.
PROOF_COUNTER_BITS = 3
#: Counter segment width in the proofs: one bit, so that carries pass between segments.
PROOF_SEGMENT_BITS = 1

_COUNTER = dict(zip(EVENT_FLAGS, ("NEGATIVES", "ZEROS", "CLIPS", "SAT_HIGH", "SAT_LOW")))

#: Proofs of blocks with control, ``{name: (harness kind, Spec options)}``: ``pipeline``
#: (FormalHarness on the pipeline, parameters and events), ``stream`` (FormalHarness on the
#: control block, bus free) and ``control`` (ControlHarness). Small widths keep them quick.
CONTROL_PROOFS = {
    "pipeline_runtime_leaky_events": ("pipeline", dict(
        kind="leaky_relu", width=4, frac=2, slope="0.5", slope_frac=2, max_value="1",
        rounding="half_even", lanes=1, stages=2, control="axi-lite",
        runtime=("slope", "max_value"))),
    "pipeline_runtime_threshold_events": ("pipeline", dict(
        kind="thresholded_relu", width=6, frac=3, threshold="0.5", out_width=4, out_frac=1,
        overflow="saturate_symmetric", rounding="half_away", lanes=2, stages=1,
        control="axi-lite", runtime=("threshold",), ready="combinational")),
    "control_stream_relu": ("stream", dict(
        kind="relu", width=4, frac=2, max_value="1", lanes=2, stages=1, control="axi-lite")),
    "control_stream_runtime_slope": ("stream", dict(
        kind="leaky_relu", width=4, frac=2, slope="0.5", slope_frac=2, lanes=1, stages=1,
        control="axi-lite", runtime=("slope",))),
    "control_bus_frames_counters": ("control", dict(
        kind="leaky_relu", width=4, frac=2, slope="0.5", slope_frac=2, max_value="1",
        out_width=3, out_frac=1, lanes=2, stages=1, control="axi-lite",
        runtime=("slope", "max_value"))),
    "control_channels_memory": ("control", dict(
        kind="prelu", width=4, frac=2, slopes=("0.5", "0.25", "-0.5", "0"), channels=4,
        slope_frac=2, lanes=2, stages=1, control="axi-lite", runtime=("slope",))),
}


def harness_for(kind, spec, counter_bits=PROOF_COUNTER_BITS):
    """The harness of a proof of kind ``kind`` (see :data:`CONTROL_PROOFS`)."""
    if kind == "pipeline":
        return FormalHarness(spec, ActivationPipeline(spec))
    if kind == "stream":
        return FormalHarness(spec, ControlledActivation(spec, counter_bits,
                                                        PROOF_SEGMENT_BITS))
    if kind == "control":
        return ControlHarness(spec, counter_bits)
    raise ValueError(f"Proof kind must be 'pipeline', 'stream' or 'control', not {kind!r}")


class ControlHarness(_Harness):
    """A proof harness around a :class:`ControlledActivation` (see the module docstring).

    Parameters
    ----------
    spec : Spec
        With control ``axi-lite``.
    counter_bits : int
        Width of the counters under proof.
    dut : ControlledActivation or None
        The design under proof (mutation tests pass mutants); ``None`` builds
        ``ControlledActivation(spec, counter_bits, PROOF_SEGMENT_BITS)``.

    The induction depth it asks for (``depth``) sees through the read pipeline.
    """

    def __init__(self, spec, counter_bits=PROOF_COUNTER_BITS, dut=None):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        self.spec = spec
        self.dut = ControlledActivation(spec, counter_bits, PROOF_SEGMENT_BITS) \
            if dut is None else dut
        self.regmap = RegisterMap(spec)
        self.counter_bits = counter_bits
        self.labels = {}
        # FormalHarness's interface, for prove(): the design its structural check reads.
        self.capacity = spec.stages + (1 if spec.ready == "registered" else 0)
        self.depth = self.dut.read_latency + 4

    def elaborate(self, platform):
        spec, dut, regmap, P = self.spec, self.dut, self.regmap, self._prop
        m = Module()
        internal = self._dut_in(m, platform)

        def held(valid, ready, *payload, name):
            """Assume the master's rule: once ``valid`` is up it holds, with ``payload``,
            until ``ready``."""
            waiting = Signal(name=f"h_{name}_waiting")
            before = [Signal(Value.cast(p).shape(), name=f"h_{name}_prev{i}")
                      for i, p in enumerate(payload)]
            m.d.sync += [waiting.eq(valid & ~ready), *(b.eq(p) for b, p in zip(before, payload))]
            m.d.comb += Assume(~waiting | valid)
            for b, p in zip(before, payload):
                m.d.comb += Assume(~waiting | (p == b))

        def stays(valid, ready, *payload, name):
            """Assert the slave's rule: once ``valid`` is up it holds, with ``payload``, until
            ``ready``."""
            waiting = Signal(name=f"h_{name}_offered")
            before = [Signal(Value.cast(p).shape(), name=f"h_{name}_was{i}")
                      for i, p in enumerate(payload)]
            m.d.sync += [waiting.eq(valid & ~ready), *(b.eq(p) for b, p in zip(before, payload))]
            m.d.comb += P(f"{name} holds until taken", ~waiting | valid)
            for b, p in zip(before, payload):
                m.d.comb += P(f"{name} payload stable until taken", ~waiting | (p == b))

        # Every input free, within the stream's and the bus master's rules.
        for path, member, value in dut.signature.flatten(dut):
            if member.flow.name == "In":
                m.d.comb += value.eq(AnySeq(Value.cast(value).shape().width))
        held(dut.i.valid, dut.i.ready, Value.cast(dut.i.payload), name="s_axis")
        bus = dut.axil
        held(bus.awvalid, bus.awready, bus.awaddr, name="aw")
        held(bus.wvalid, bus.wready, bus.wdata, bus.wstrb, name="w")
        held(bus.arvalid, bus.arready, bus.araddr, name="ar")

        # 1. AXI4-Lite.
        stays(bus.bvalid, bus.bready, bus.bresp, name="B")
        stays(bus.rvalid, bus.rready, bus.rdata, bus.rresp, name="R")
        aw_fire, w_fire = bus.awvalid & bus.awready, bus.wvalid & bus.wready
        b_fire, ar_fire, r_fire = (bus.bvalid & bus.bready, bus.arvalid & bus.arready,
                                   bus.rvalid & bus.rready)
        aw_out, w_out, ar_out = (Signal(range(3), name=f"h_{n}_outstanding")
                                 for n in ("aw", "w", "ar"))
        m.d.sync += [aw_out.eq(aw_out + aw_fire - b_fire), w_out.eq(w_out + w_fire - b_fire),
                     ar_out.eq(ar_out + ar_fire - r_fire)]
        m.d.comb += [
            P("at most one write address outstanding", aw_out <= 1),
            P("at most one write data outstanding", w_out <= 1),
            P("at most one read outstanding", ar_out <= 1),
            # Ready only with nothing outstanding: what keeps it at one, one step ahead.
            P("at most one write address outstanding", ~bus.awready | (aw_out == 0)),
            P("at most one write data outstanding", ~bus.wready | (w_out == 0)),
            P("at most one read outstanding", ~bus.arready | (ar_out == 0)),
            P("no write response without address and data", ~bus.bvalid | ((aw_out == 1) &
                                                                          (w_out == 1))),
            P("no read data without an address", ~bus.rvalid | (ar_out == 1)),
        ]
        # Invariants: the slave's flags are the outstanding requests.
        m.d.comb += [
            P("invariant: write address held", aw_out == (internal("axil_aw_full") +
                                                          internal("axil_bvalid"))),
            P("invariant: write data held", w_out == (internal("axil_w_full") +
                                                      internal("axil_bvalid"))),
            P("invariant: read address held", ar_out == (internal("axil_ar_full") +
                                                         internal("axil_rvalid"))),
        ]
        aw_addr = Signal(regmap.address_width, name="h_awaddr")
        w_strb = Signal(4, name="h_wstrb")
        ar_addr = Signal(regmap.address_width, name="h_araddr")
        with m.If(aw_fire):
            m.d.sync += aw_addr.eq(bus.awaddr)
        with m.If(w_fire):
            m.d.sync += w_strb.eq(bus.wstrb)
        with m.If(ar_fire):
            m.d.sync += ar_addr.eq(bus.araddr)
        m.d.comb += [
            P("invariant: write address held", ~internal("axil_aw_full") |
              (internal("axil_awaddr_q") == aw_addr[2:])),
            P("invariant: write data held", ~internal("axil_w_full") |
              (internal("axil_wstrb_q") == w_strb)),
            P("invariant: read address held", ~internal("axil_ar_full") |
              (internal("axil_araddr_q") == ar_addr[2:])),
        ]

        def word_is(addr, words):
            return Const(0, 1) if not words else \
                Value.cast(sum((addr[2:] == w for w in words), Const(0, 1)) != 0)

        writable = [r for r in regmap if r.access == "rw"]
        slope_memory = spec.channel_groups > 1 and "slope" in spec.runtime
        plain = [r.word for r in writable if not (slope_memory and r.kind == "slope")]
        memory = [r.word for r in writable if slope_memory and r.kind == "slope"]
        whole = Const(1, 1)
        if memory:
            width = next(r for r in writable if r.kind == "slope").fields[0].width
            whole = w_strb[:-(-width // 8)].all()
        write_ok = word_is(aw_addr, plain) | (word_is(aw_addr, memory) & whole)
        read_ok = word_is(ar_addr, [r.word for r in regmap])
        m.d.comb += [
            P("SLVERR exactly for unwritable addresses",
              ~bus.bvalid | (bus.bresp == Mux(write_ok, OKAY, SLVERR))),
            P("SLVERR exactly for unmapped addresses",
              ~bus.rvalid | (bus.rresp == Mux(read_ok, OKAY, SLVERR))),
        ]
        for r in regmap:
            if r.kind in ("const", "control"):
                value = r.reset if r.kind == "const" else 0
                m.d.comb += P("constant registers read their values",
                              ~(bus.rvalid & (ar_addr[2:] == r.word)) | (bus.rdata == value))

        # 2. Frames, at the pipeline's input.
        core = dut.core
        c_fire = core.i.valid & core.i.ready
        between = Signal(init=1, name="h_between")
        with m.If(c_fire):
            m.d.sync += between.eq(core.i.payload.last)
        m.d.comb += P("invariant: frames tracked alike", internal("between_frames") == between)
        params = core.i.payload.params
        shared = [params[name] for name in ("max_value", "threshold") if name in spec.runtime]
        if "slope" in spec.runtime and not slope_memory:
            shared.append(Value.cast(params.slope))
        if shared:
            now = Cat(*shared)
            frame_params = Signal(len(now), name="h_frame_params")
            with m.If(c_fire & between):
                m.d.sync += frame_params.eq(now)
            m.d.comb += P("a frame never mixes two parameter sets",
                          ~(c_fire & ~between) | (now == frame_params))
            m.d.comb += P("invariant: inside a frame the parameters are the frame's",
                          between | (now == frame_params))
            pending = internal("params_pending")
            m.d.comb += P("writes wait only inside a frame", ~pending | ~between)
            for r in regmap:
                if r.kind == "param" or (r.kind == "slope" and not slope_memory):
                    low = r.name.lower()
                    m.d.comb += P("with no write waiting the active parameters are the written",
                                  pending | (internal(f"{low}_active") ==
                                             internal(f"{low}_shadow")))
        if slope_memory:
            m.d.comb += P("the active slopes never change inside a frame",
                          ~internal("slopes_copy_writing") | between)
            m.d.comb += P("invariant: copies start between frames",
                          ~internal("slopes_copy_reading") | between)
            m.d.comb += P("writes wait only inside a frame",
                          ~internal("slopes_pending") | ~between)

        # 3. Counters.
        top = (1 << self.counter_bits) - 1
        o_fire = dut.o.valid & dut.o.ready
        events = core.o.payload.events

        def value_of(segments, carries, saturated):
            # Segments plus pending carries, or the largest value once saturated.
            widths = [len(x) for x in segments]
            total = sum((Value.cast(x) << sum(widths[:i]) for i, x in enumerate(segments)),
                        Const(0, self.counter_bits + 2))
            total = total + sum((Value.cast(c) << sum(widths[:i + 1])
                                 for i, c in enumerate(carries)), Const(0, 1))
            return Mux(saturated | (total > top), top, total)

        def delayed(value, name):
            # The event as the counters take it, EVENT_LATENCY cycles after its beat.
            for i in range(EVENT_LATENCY):
                reg = Signal(name=f"{name}{i}", reset_less=True)
                m.d.sync += reg.eq(value)
                value = reg
            return value

        names = dut._counter_names()
        shadows = {}
        # Counters, the ring and the pulse trees have no reset: a reset is a clear, which
        # reaches them while input ready is held low after the reset; until then copies of
        # a pulse that were on their way may have reached some segments and not others.
        settling = internal("settling")[0]
        taken = internal("snapshot_taken")

        def counted(name, register, event, clear, snapshot):
            mine = delayed(event, f"h_{name}_event")
            count = Signal(range(top + 1), name=f"h_{name}_count", reset_less=True)
            shadow = Signal(range(top + 1), name=f"h_{name}_shadow", reset_less=True)
            with m.If(clear):
                m.d.sync += count.eq(mine)
            with m.Elif(mine & (count != top)):
                m.d.sync += count.eq(count + 1)
            with m.If(snapshot):
                m.d.sync += shadow.eq(count)
            n = -(-self.counter_bits // dut.segment_bits)
            value = value_of([internal(f"{name}_seg{i}") for i in range(n)],
                             [internal(f"{name}_carry{i}") for i in range(1, n)],
                             internal(f"{name}_sat"))
            m.d.comb += [
                P("invariant: events registered alike", internal(
                    f"{name}_event" if name.startswith("lane") else f"{name[:-1]}_event")
                  == mine),
                P("each counter equals its events up to saturation",
                  settling | (value == count)),
            ]
            shadows[register] = shadow

        counted("beats", "BEATS", o_fire, internal("beats_clear"), internal("beats_snapshot"))
        counted("frames", "FRAMES", o_fire & dut.o.payload.last, internal("frames_clear"),
                internal("frames_snapshot"))
        for k in range(spec.lanes):
            for name in EVENT_FLAGS:
                if f"{_COUNTER[name]}{k}" in regmap and f"{_COUNTER[name]}{k}" not in names:
                    m.d.comb += P("a counter left out of the ring has no event to count",
                                  ~(o_fire & events[k][name]))
                elif f"{_COUNTER[name]}{k}" in regmap:
                    counted(f"lane{k}_{name}", f"{_COUNTER[name]}{k}",
                            o_fire & events[k][name], internal(f"lane{k}_{name}_clear"),
                            internal(f"lane{k}_{name}_snapshot"))
            clear = internal(f"lane{k}_alive_clear")
            nonzero = delayed(o_fire & ~events[k].zero, f"h_lane{k}_nonzero")
            alive = Signal(name=f"h_lane{k}_alive", reset_less=True)
            m.d.sync += alive.eq((alive & ~clear) | nonzero)
            m.d.comb += P("ALIVE is a non-zero output since the last clear",
                          settling | (internal(f"lane{k}_alive") == alive))

        # The ring of snapshots: word p holds counter (p + phase) mod n.
        n = len(names)
        phase = internal("ring_phase")
        widths = [min(dut.segment_bits, self.counter_bits - low)
                  for low in range(0, self.counter_bits, dut.segment_bits)]
        starts = [sum(widths[:i]) for i in range(len(widths))]
        m.d.comb += P("invariant: the ring's phase is one-hot", (phase & (phase - 1)) == 0)
        m.d.comb += P("invariant: the ring's phase is one-hot", phase.any())
        for p in range(n):
            word = internal(f"ring{p}")
            bits = self.counter_bits
            held = value_of([word[lo:lo + w] for lo, w in zip(starts, widths)],
                            [word[bits + i] for i in range(len(widths) - 1)], word[-1])
            for j, name in enumerate(names):
                m.d.comb += P("each shadow holds the counter at the last snapshot",
                              ~taken | ~phase[(j - p) % n] | (held == shadows[name]))
        return m


#: Every built-in proof: the pipeline's (:data:`relu_hw.formal.FORMAL_CONFIGS`) and those of
#: control (:data:`CONTROL_PROOFS`).
PROOFS = (*FORMAL_CONFIGS, *CONTROL_PROOFS)


def prove_control(name, workdir=None, depth=None, timeout=900, spec=None):
    """Prove the control proof ``name`` of :data:`CONTROL_PROOFS` (or, given ``spec``, the
    proof of that kind named ``name`` for ``spec``); a
    :class:`~relu_hw.formal.FormalResult`."""
    kind = CONTROL_PROOFS[name][0] if spec is None else name.rpartition(".")[2]
    if spec is None:
        spec = Spec(**CONTROL_PROOFS[name][1])
    with _ELABORATE:
        harness = harness_for(kind, spec)
    return prove(spec, name=name, workdir=workdir, depth=depth, timeout=timeout,
                 harness=harness)


def prove_named(names, workdir=None, jobs=1, depth=None, timeout=900):
    """Prove the built-in proofs ``names`` (of :data:`PROOFS`), ``jobs`` at a time; a list
    of :class:`~relu_hw.formal.FormalResult` in the order given."""
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"Job count must be a positive integer, not {jobs!r}")

    def one(name):
        if name in CONTROL_PROOFS:
            return prove_control(name, workdir, depth, timeout)
        return prove(Spec(**FORMAL_CONFIGS[name]), name=name, workdir=workdir, depth=depth,
                     timeout=timeout)
    return run_parallel(one, names, jobs)


def prove_spec(spec, workdir=None, jobs=1, depth=None, timeout=900):
    """The proofs of one configuration: the pipeline's (with its parameters and events when
    it has control), and with control the control block's (``<name>.control``)."""
    jobs_list = [(spec.name, None)]
    if spec.control != "none":
        jobs_list.append((f"{spec.name}.control", "control"))

    def one(item):
        name, kind = item
        if kind is None:
            return prove(spec, name=name, workdir=workdir, depth=depth, timeout=timeout)
        return prove_control(name, workdir, depth, timeout, spec=spec)
    return run_parallel(one, jobs_list, jobs)
