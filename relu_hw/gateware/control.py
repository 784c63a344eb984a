# SPDX-License-Identifier: Apache-2.0
"""What software drives and watches: the activation pipeline with per-channel slopes, runtime
parameters that change only at frame boundaries, telemetry counters, and the register file
behind an AXI4-Lite slave."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..regmap import COUNTERS, RegisterMap
from ..spec import REGISTER_BITS, Spec
from .axil import DATA_BITS, AXI4LiteSignature, AXI4LiteSlave
from .datapath import EVENT_FLAGS, LaneDatapath, format_shape, slope_operand
from .pipeline import ActivationPipeline, payload_layout

__all__ = ["ControlledActivation", "needs_controller", "EVENT_LATENCY"]

#: Bits of a counter segment: a carry chain no longer than this, and every next-state
#: function of a counter within one 4-input LUT.
SEGMENT_BITS = 3
# Segments of a counter that share a copy of the CLEAR and SNAPSHOT pulses.
_PULSE_SEGMENTS = 2

# Cycles from a read's address to the slope memory's registered word for it.
_MEMORY_READ_LATENCY = 4

#: Cycles from an output beat to the registered event that its counters take.
EVENT_LATENCY = 2

# Counter register name of each event.
_COUNTER = dict(zip(EVENT_FLAGS, ("NEGATIVES", "ZEROS", "CLIPS", "SAT_HIGH", "SAT_LOW")))


def needs_controller(spec):
    """Whether ``spec`` needs :class:`ControlledActivation` around its pipeline: control, or
    more channels than lanes."""
    return spec.control != "none" or spec.channels != spec.lanes


class ControlledActivation(wiring.Component):
    """An :class:`ActivationPipeline` with per-channel slopes, runtime parameters, telemetry
    counters and, with control ``axi-lite``, the registers of
    :class:`~relu_hw.regmap.RegisterMap` behind an AXI4-Lite slave.

    **Frames.** The stream is *between frames* after reset and after an accepted beat with
    ``last``; otherwise inside one. Each beat takes, when accepted, the active parameters and
    the slopes of its channel group: its place in the frame modulo ``channels // lanes``
    (``last`` restarts at group 0). They travel with it through the pipeline.

    **Runtime parameters.** A write goes to a shadow copy. Between frames it becomes active at
    once (for beats accepted from the next cycle on, unless a beat is accepted on the write's
    own cycle, which then starts a frame); inside a frame, on the cycle the beat with ``last``
    is accepted, however long the frame waits for its beats. Every write made until a boundary
    becomes active there, together. Per-channel runtime slopes live in two memories, a shadow
    that software writes and the active one the beats read; a boundary with new slopes copies
    the shadow into the active memory, which holds input ``ready`` low for ``channels // lanes
    + 2`` cycles, and software writes to slopes wait during the copy. The slope memories hold
    their contents across a reset (they start from the build-time slopes at configuration);
    registers reset to the build-time values.

    **Telemetry.** At every output beat: ``FRAMES`` (beats with ``last``), ``BEATS``, and per
    lane the events of :data:`~relu_hw.gateware.datapath.EVENT_FLAGS` that the map has
    counters for, and ``ALIVE``. Counters are ``counter_bits`` wide and stop at their largest
    value; a lane counter whose event no input can raise (ReLU never saturates into a format
    as wide as its input) is a constant 0. ``CLEAR`` zeroes them (an event on the clear's own
    cycle counts in the new window); ``SNAPSHOT`` copies them, all on one cycle, into a ring
    of shadows that reads return (see :meth:`_telemetry`); a snapshot waits up to a turn of
    the ring, and reads wait while it is on its way, so a read after a snapshot's response
    returns it. Until the first snapshot after reset, telemetry reads 0. Counters are kept
    as segments with pending carries (see ``segment_bits``); the read path adds the carries
    in, so a read returns exactly the count at the snapshot's cycle. A read takes at most
    ``read_latency`` cycles from its address to its data, when nothing stalls it.

    **Reset.** The counters, their ring and the trees that carry CLEAR and SNAPSHOT have no
    reset: a reset is a clear, and input ``ready`` is held low for the first few cycles after
    a reset (``settle_cycles``), until that clear has reached the counters.

    Parameters
    ----------
    spec : Spec
        Control ``axi-lite``, or more channels than lanes.
    counter_bits : int
        Width of the counters (32; proofs use fewer to reach saturation).
    segment_bits : int
        Width of a counter's segments (:data:`SEGMENT_BITS`; proofs use 1, so that their
        small counters have carries between segments).

    Members
    -------
    i : In(stream.Signature(payload_layout(format_shape(input_format), lanes, user_width)))
    o : Out(stream.Signature(payload_layout(format_shape(output_format), lanes, user_width)))
    axil : In(AXI4LiteSignature(address_width))
        With control ``axi-lite`` only.

    Latency and throughput are the pipeline's, apart from input ``ready`` after reset (see
    above; with per-channel slopes also the slope memory's first read).
    """

    def __init__(self, spec, counter_bits=REGISTER_BITS, segment_bits=SEGMENT_BITS):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        if not needs_controller(spec):
            raise ValueError("ControlledActivation needs control 'axi-lite' or more channels "
                             "than lanes")
        if isinstance(counter_bits, bool) or not isinstance(counter_bits, int) or \
                not 1 <= counter_bits <= REGISTER_BITS:
            raise ValueError(f"Counter width must be an integer from 1 to {REGISTER_BITS}, "
                             f"not {counter_bits!r}")
        if isinstance(segment_bits, bool) or not isinstance(segment_bits, int) or \
                not 1 <= segment_bits <= REGISTER_BITS:
            raise ValueError(f"Segment width must be an integer from 1 to {REGISTER_BITS}, "
                             f"not {segment_bits!r}")
        self._spec = spec
        self._counter_bits = counter_bits
        self._segment_bits = segment_bits
        self._regmap = RegisterMap(spec) if spec.control != "none" else None
        #: The pipeline inside (for proofs and tests).
        self.core = ActivationPipeline(spec)
        members = {
            "i": In(stream.Signature(
                payload_layout(format_shape(spec.input_format), spec.lanes, spec.user_width))),
            "o": Out(stream.Signature(
                payload_layout(format_shape(spec.output_format), spec.lanes, spec.user_width))),
        }
        if self._regmap is not None:
            members["axil"] = In(AXI4LiteSignature(self._regmap.address_width))
        super().__init__(members)

    @property
    def spec(self):
        return self._spec

    @property
    def regmap(self):
        """The :class:`~relu_hw.regmap.RegisterMap`, or ``None`` without control."""
        return self._regmap

    @property
    def latency(self):
        return self._spec.latency

    @property
    def counter_bits(self):
        return self._counter_bits

    @property
    def segment_bits(self):
        return self._segment_bits

    def elaborate(self, platform):
        m = Module()
        spec, core, regmap = self._spec, self.core, self._regmap
        m.submodules.core = core
        lanes = spec.lanes
        groups = spec.channel_groups
        operand = slope_operand(spec)
        memory = operand is not None and groups > 1
        runtime_memory = memory and "slope" in spec.runtime

        # Input ready is held low while the active slope memory is being filled (and on the
        # first cycle after reset, when its first read is on its way), and after reset until
        # the counters have been cleared.
        busy = Signal(name="slopes_busy") if memory else Const(0, 1)
        hold = busy
        if regmap is not None:
            settling = Signal(self.settle_cycles, init=-1, name="settling")
            m.d.sync += settling.eq(settling[1:])
            hold = busy | settling[0]
        in_fire = self.i.valid & self.i.ready
        last = self.i.payload.last
        m.d.comb += [
            core.i.valid.eq(self.i.valid & ~hold),
            self.i.ready.eq(core.i.ready & ~hold),
            core.i.payload.data.eq(self.i.payload.data),
            core.i.payload.last.eq(last),
            self.o.valid.eq(core.o.valid),
            core.o.ready.eq(self.o.ready),
            self.o.payload.data.eq(core.o.payload.data),
            self.o.payload.last.eq(core.o.payload.last),
        ]
        if spec.user_width:
            m.d.comb += [core.i.payload.user.eq(self.i.payload.user),
                         self.o.payload.user.eq(core.o.payload.user)]

        # Frames, at the input.
        between = Signal(init=1, name="between_frames")
        with m.If(in_fire):
            m.d.sync += between.eq(last)
        boundary = Signal(name="frame_boundary")
        m.d.comb += boundary.eq((between & ~in_fire) | (in_fire & last))

        bus = self._register_bus(m) if regmap is not None else None

        # Runtime parameters held in registers: a shadow and an active copy each.
        pending = Signal(name="params_pending")
        registers = {}          # register name -> (shadow, active)
        written = []
        next_shadows = {}
        if regmap is not None:
            for reg in regmap:
                if reg.kind == "param" or (reg.kind == "slope" and not memory):
                    fld = reg.fields[0]
                    shape = signed(fld.width) if fld.signed else unsigned(fld.width)
                    code = fld.code(fld.reset)
                    low = reg.name.lower()
                    shadow = Signal(shape, init=code, name=f"{low}_shadow")
                    active = Signal(shape, init=code, name=f"{low}_active")
                    write = bus["fire"] & bus["select"][reg.name]
                    merged = _merge(shadow, bus["data"], bus["strb"])
                    next_shadow = Signal(shape, name=f"{low}_next")
                    m.d.comb += next_shadow.eq(Mux(write, merged, shadow))
                    m.d.sync += shadow.eq(next_shadow)
                    registers[reg.name] = (shadow, active)
                    next_shadows[reg.name] = next_shadow
                    written.append(write)
        if registers:
            wrote = Signal(name="params_written")
            m.d.comb += wrote.eq(Cat(*written).any())
            with m.If((pending | wrote) & boundary):
                m.d.sync += pending.eq(0)
                for name, (_, active) in registers.items():
                    m.d.sync += active.eq(next_shadows[name])
            with m.Elif(wrote):
                m.d.sync += pending.eq(1)

        params = core.i.payload.params if operand is not None or registers else None
        if "max_value" in spec.runtime:
            m.d.comb += params.max_value.eq(registers["MAX_VALUE"][1])
        if "threshold" in spec.runtime:
            m.d.comb += params.threshold.eq(registers["THRESHOLD"][1])
        copying = Const(0, 1)
        pending_memory = Const(0, 1)
        if memory:
            copying, pending_memory = self._slope_memory(m, bus, busy, in_fire, last, boundary,
                                                         params, runtime_memory)
        elif operand is not None:
            for k in range(lanes):
                name = "SLOPE" if spec.kind == "leaky_relu" else f"SLOPE{k}"
                m.d.comb += params.slope[k].eq(registers[name][1])

        if regmap is not None:
            telemetry = self._telemetry(m, bus)
            assert telemetry["settle"] == self.settle_cycles
            status = Cat(pending | pending_memory | copying, ~between)
            self._reads(m, bus, telemetry, registers, status)
        return m

    # The register bus ----------------------------------------------------------------------------

    def _register_bus(self, m):
        """The AXI4-Lite slave and the write side of the register file.

        The word address of a write holds from its request to its response, so its decode is a
        pipeline: equalities of 4-bit pieces of the address, then each register's select (an
        AND of at most four of them), then the error flag through ORs of at most four inputs
        a level. ``w_ready`` rises once the pipeline has seen the address for as many cycles
        as it is deep (``WRITE_DECODE`` cycles), so that no decode lies between the bus and
        the registers it writes, and no signal drives more than a few dozen inputs."""
        regmap = self._regmap
        m.submodules.axil = slave = AXI4LiteSlave(regmap.address_width)
        wiring.connect(m, wiring.flipped(self.axil), slave.axil)
        addr = slave.w_addr
        fire = Signal(name="reg_write_fire")
        selected = _word_decoder(m, addr, "reg_write")

        select = {}
        memory_stride = regmap.slope_lanes_stride if self._spec.channel_groups > 1 else 0
        writable = [r for r in regmap if r.access == "rw" and
                    not (r.kind == "slope" and memory_stride)]
        for reg in writable:
            select[reg.name] = Signal(name=f"reg_write_{reg.name.lower()}")
            m.d.sync += select[reg.name].eq(selected(reg.word))
        in_memory = Signal(name="reg_write_memory")
        memory_lane = Signal(range(max(memory_stride, 2)), name="reg_write_lane")
        memory_entry = Signal(range(max(self._spec.channel_groups, 2)),
                              name="reg_write_entry")
        hits = list(select.values())
        if memory_stride:
            slope_words = [r for r in regmap if r.kind == "slope"]
            base = slope_words[0].word
            offset = addr - base
            lane = offset[:(memory_stride - 1).bit_length()]
            entry = offset >> (memory_stride - 1).bit_length()
            inside = Signal(name="reg_write_inside")
            # The memory takes whole words: a write that leaves out a byte of the slope is an
            # error.
            field_bytes = -(-slope_words[0].fields[0].width // 8)
            whole = slave.w_strb[:field_bytes].all()
            m.d.sync += [inside.eq((addr >= base) & (lane < self._spec.lanes) &
                                   (entry < self._spec.channel_groups) & whole),
                         in_memory.eq(inside), memory_lane.eq(lane), memory_entry.eq(entry)]
            hits.append(in_memory)
        # Stages 3 and on: the error flag, ORs of at most four selects a level.
        error = Signal(name="reg_write_error")
        m.d.sync += error.eq(~_or_levels(m, hits, "reg_write_hit"))
        # The request has been seen for `depth` cycles when the last bit of `seen` is set.
        depth = _levels(len(hits)) + 3
        seen = Signal(depth, name="reg_write_seen")
        # The request holds until it is taken, so the last bit implies it.
        m.d.sync += seen.eq(Cat(slave.w_valid, seen[:-1]) & ~fire.replicate(depth))
        return {"slave": slave, "fire": fire, "decoded": seen[-1], "select": select,
                "data": slave.w_data, "strb": slave.w_strb, "error": error,
                "memory": in_memory, "lane": memory_lane, "entry": memory_entry}

    def _read_depths(self):
        """The read pipeline's depths, in cycles from a held read address: ``flags`` (each
        word's select), ``head`` (from the ring's head to its resolved value, with the
        rotation's match aligned to it), ``settle`` (every fixed path: the address has been
        held this long before the data may be taken) and ``latency`` (at most, with no
        stall: the settle, a whole turn of the ring, the data register)."""
        carries = len(_segments(self._counter_bits, self._segment_bits)) - 1
        counters = len(self._counter_names())
        match_levels = _levels(counters)
        head = 2 + max(match_levels, carries)
        small = 3 + _levels(-(-self._small_words() // 2))
        settle = max(2 + head, 3 + _levels(counters), small)
        if self._spec.channel_groups > 1 and "slope" in self._spec.runtime:
            settle = max(settle, _MEMORY_READ_LATENCY)
        return {"flags": 2, "head": head, "match": match_levels, "small": small,
                "settle": settle, "latency": settle + counters + 1}

    @property
    def read_latency(self):
        """At most this many cycles from a read's address to its data when nothing stalls
        it (a snapshot in flight or a slope copy can)."""
        return None if self._regmap is None else self._read_depths()["latency"]

    @property
    def settle_cycles(self):
        """Cycles after reset with input ``ready`` held low: until the clear that a reset is
        reaches the counters, from the clear's request through its tree; 0 without
        control."""
        if self._regmap is None:
            return 0
        widths = _segments(self._counter_bits, self._segment_bits)
        users = len(self._counter_names()) * -(-len(widths) // _PULSE_SEGMENTS) + \
            self._spec.lanes
        return _fanout_depth(users) + 2

    def _counter_names(self):
        """The counters that can count (not those of a lane event that no input raises:
        they read 0, as a constant), in the order of their words in the ring: up the lanes
        through every other kind of counter and back down through the rest, then ``BEATS``
        and ``FRAMES``, so that the ring's neighbours are counters of neighbouring lanes."""
        lanes = self._spec.lanes
        impossible = {f"{_COUNTER[name]}{k}" for k in range(lanes)
                      for name in LaneDatapath(self._spec, k).impossible_events()}
        kinds = [name for name in COUNTERS
                 if any(f"{name}{k}" in self._regmap for k in range(lanes))]
        order = [f"{name}{k}" for k in range(lanes) for name in kinds[0::2]] + \
            [f"{name}{k}" for k in reversed(range(lanes)) for name in kinds[1::2]] + \
            ["BEATS", "FRAMES"]
        return [name for name in order if name in self._regmap and name not in impossible]

    def _small_words(self):
        """How many words the read path takes from outside the ring (all but the counters
        in it and the slopes in a memory)."""
        memory = slope_operand(self._spec) is not None and self._spec.channel_groups > 1
        ring = set(self._counter_names())
        return sum(1 for r in self._regmap
                   if r.name not in ring and not (r.kind == "slope" and memory))

    def _reads(self, m, bus, telemetry, registers, status):
        """The read side, a pipeline that the word address of a read (which holds until the
        data is taken) flows through.

        Counters are read from the ring (see :meth:`_telemetry`), whose head holds each
        counter in turn: each counter word's select is ANDed with the ring's phase bit for
        that counter, the ANDs are ORed in registered levels of four, and the result, delayed
        to meet the head's value after its pending carries have been added in (a stage per
        segment boundary), says when the head holds the counter asked for. Other words
        (identity, CONTROL, STATUS, parameters, ALIVE) go through registered equalities of
        the address's 4-bit pieces, a registered select per word (an AND of at most four of
        them), pairs of words ANDed with their selects and ORed, and registered levels of
        4-input ORs. The data is taken once the address has been held, with no stall, for as
        long as the fixed paths are deep, and, for a counter, when the head comes round to
        it; while a snapshot is on its way reads wait, so that a read after a snapshot's
        response returns the snapshot."""
        regmap, slave = self._regmap, bus["slave"]
        depths = self._read_depths()
        widths = _segments(self._counter_bits, self._segment_bits)
        starts = [sum(widths[:i]) for i in range(len(widths))]
        carry_bits = len(widths) - 1
        values = {}
        for reg in regmap:
            value = None
            if reg.kind == "const":
                value = Const(reg.reset, DATA_BITS)
            elif reg.kind == "control" or (reg.kind == "counter" and
                                            reg.name not in telemetry["counters"]):
                value = Const(0, DATA_BITS)
            elif reg.kind == "status":
                value = status
            elif reg.kind in ("param", "slope") and reg.name in registers:
                value = registers[reg.name][0].as_unsigned()
            elif reg.kind == "alive":
                value = telemetry["alive"]
            if value is not None:
                values[reg.word] = Cat(value, Const(0, DATA_BITS - len(value)))
        assert len(values) == self._small_words()
        selected = _word_decoder(m, slave.r_addr, "reg_read")

        def word_flag(word):
            flag = Signal(name=f"reg_read_word_{word:x}")
            m.d.sync += flag.eq(selected(word))
            return flag

        # Words outside the ring; the hit travels as the word's top bit.
        nodes = [(word_flag(word), Cat(value, Const(1, 1)))
                 for word, value in sorted(values.items())]
        level = []
        for j in range(0, len(nodes), 2):
            pair = Signal(DATA_BITS + 1, name=f"reg_read_pair{j // 2}")
            # ANDs, not multiplexers with a zero input, which synthesis would turn into a
            # synchronous reset driven through a LUT.
            m.d.sync += pair.eq(_or(value & flag.replicate(len(value))
                                    for flag, value in nodes[j:j + 2]))
            level.append(pair)
        # The address holds while the read waits, and so does what these paths make of it.
        small = _or_levels(m, level, "reg_read_or")
        small_data, small_hit = small[:DATA_BITS], small[DATA_BITS]

        # Counters: which one is asked for, and when the ring's head holds it.
        names = telemetry["counters"]
        by_name = {r.name: r for r in regmap}
        flags = [word_flag(by_name[name].word) for name in names]
        is_counter = _or_levels(m, flags, "reg_read_counter")
        phase = telemetry["phase"]
        matches = []
        for j, flag in enumerate(flags):
            match = Signal(name=f"reg_read_match{j}")
            m.d.sync += match.eq(flag & phase[j])
            matches.append(match)
        # The turn is wanted a cycle early: it goes into a register with the other
        # conditions of taking the data.
        turn = _or_levels(m, matches, "reg_read_turn")
        turn = _delay(m, turn, depths["head"] - 2 - depths["match"], "reg_read_turn_d")
        # The head, then a stage per pending carry: each adds every segment's pending carry
        # into it; a carry out of the top segment saturates.
        head = Signal(len(telemetry["head"]), name="reg_read_head")
        m.d.sync += head.eq(telemetry["head"])
        segments = head[:self._counter_bits]
        carries = head[self._counter_bits:self._counter_bits + carry_bits]
        saturated = head[-1]
        for stage in range(carry_bits):
            next_segments = Signal(self._counter_bits, name=f"reg_read_resolve{stage}")
            next_carries = Signal(carry_bits, name=f"reg_read_resolve{stage}_carries")
            next_saturated = Signal(name=f"reg_read_resolve{stage}_saturated")
            parts = [segments[:widths[0]]]
            for i in range(1, len(widths)):
                segment = segments[starts[i]:starts[i] + widths[i]]
                parts.append((segment + carries[i - 1])[:widths[i]])
                below = segments[starts[i - 1]:starts[i - 1] + widths[i - 1]]
                if i >= 2:
                    m.d.sync += next_carries[i - 1].eq(carries[i - 2] & below.all())
                else:
                    m.d.sync += next_carries[0].eq(0)
            top = segments[starts[-1]:starts[-1] + widths[-1]]
            m.d.sync += [
                next_segments.eq(Cat(*parts)),
                next_saturated.eq(saturated | (carries[-1] & top.all())),
            ]
            segments, carries, saturated = next_segments, next_carries, next_saturated
        count = Signal(self._counter_bits, name="reg_read_count", reset_less=True)
        m.d.sync += count.eq(segments | saturated.replicate(self._counter_bits))
        count = _delay(m, count, depths["head"] - 2 - carry_bits, "reg_read_count_d")

        memory = bus.get("read_memory")
        if memory is not None:
            # The slope region lies above every register; the memory read wins there.
            small_data = small_data | Mux(memory["hit"], memory["data"], 0)
            small_hit = small_hit | memory["hit"]

        read_data = Signal(DATA_BITS, name="reg_read_data", reset_less=True)
        read_hit = Signal(name="reg_read_hit", reset_less=True)
        # Before the first snapshot after reset, telemetry reads 0. The choice is registered
        # as two enables, and made with ANDs: a multiplexer with a zero input would be a
        # synchronous reset driven through a LUT.
        take_count = Signal(name="reg_read_take_count", reset_less=True)
        take_small = Signal(name="reg_read_take_small", reset_less=True)
        m.d.sync += [
            take_count.eq(is_counter & telemetry["snapped"]),
            take_small.eq(~is_counter),
            read_data.eq((count & take_count.replicate(DATA_BITS)) |
                         (small_data & take_small.replicate(DATA_BITS))),
            read_hit.eq(is_counter | small_hit),
        ]
        ack = Signal(name="reg_read_ack")
        ack_before = Signal(name="reg_read_ack_before")
        settle = depths["settle"]
        seen = Signal(settle, name="reg_read_seen")
        stall = bus.get("read_stall", Const(0, 1))
        # The address has been held with no stall for `settle` cycles when the last bit of
        # `seen` is set; the data is taken (`ack`) on the next cycle: at once for a word outside
        # the ring, on the counter's turn for a counter, and not while a snapshot is on its
        # way. The address ends a cycle after `ack`, and `seen` a cycle after that: `ack` and
        # its copy a cycle late keep those two cycles from taking the data again, and keep
        # `ack` out of `seen`'s logic. Written as ANDs: a multiplexer with a zero input would
        # be a synchronous reset driven through a LUT.
        may_take = Signal(name="reg_read_may_take")
        m.d.sync += [
            seen.eq(Cat(1, seen[:-1]) & (slave.r_valid & ~stall).replicate(settle)),
            may_take.eq(~telemetry["busy"] & (~is_counter | turn)),
            ack_before.eq(ack),
            ack.eq(seen[-1] & ~ack & ~ack_before & ~stall & may_take),
        ]
        m.d.comb += [slave.r_ready.eq(ack), slave.r_data.eq(read_data),
                     slave.r_error.eq(~read_hit)]

        # Writes: ready once decoded, unless a slope write meets a copy.
        stall = bus["memory"] & bus.get("write_stall", 0)
        m.d.comb += [slave.w_ready.eq(bus["decoded"] & ~stall),
                     slave.w_error.eq(bus["error"]),
                     bus["fire"].eq(slave.w_ready)]

    # Per-channel slopes ------------------------------------------------------------------------

    def _slope_memory(self, m, bus, busy, in_fire, last, boundary, params, runtime):
        """The channel group counter and the slopes of each group: a memory of one word per
        group (all lanes' slopes), read a cycle ahead at the group of the next beat; with
        runtime slopes, a shadow memory too, copied into the active one at a frame boundary.
        Returns ``(copying, pending)``."""
        spec = self._spec
        lanes, groups = spec.lanes, spec.channel_groups
        shape, frac, _, _ = slope_operand(spec)
        width = shape.width
        codes = [q.code << (frac - q.frac) for q in spec.channel_slopes]
        init = [sum((codes[g * lanes + k] & ((1 << width) - 1)) << (k * width)
                    for k in range(lanes)) for g in range(groups)]
        m.submodules.slopes_active = active = Memory(shape=unsigned(lanes * width),
                                                     depth=groups, init=init)
        group = Signal(range(groups), name="channel_group")
        next_group = Signal(range(groups), name="channel_group_next")
        m.d.comb += next_group.eq(group)
        with m.If(in_fire):
            with m.If(last | (group == groups - 1)):
                m.d.comb += next_group.eq(0)
            with m.Else():
                m.d.comb += next_group.eq(group + 1)
        m.d.sync += group.eq(next_group)
        read = active.read_port()
        m.d.comb += [read.addr.eq(next_group), read.en.eq(1)]
        for k in range(lanes):
            word = read.data[k * width:(k + 1) * width]
            m.d.comb += params.slope[k].eq(word.as_signed() if shape.signed else word)

        # The first cycle after reset waits for the first read.
        refresh = Signal(init=1, name="slopes_refresh")
        if not runtime:
            m.d.sync += refresh.eq(0)
            m.d.comb += busy.eq(refresh)
            return Const(0, 1), Const(0, 1)

        m.submodules.slopes_shadow = shadow = Memory(shape=unsigned(lanes * width),
                                                     depth=groups, init=init)
        write = shadow.write_port(granularity=width)
        shadow_read = shadow.read_port()
        copy = active.write_port()
        reading = Signal(name="slopes_copy_reading")
        read_index = Signal(range(groups), name="slopes_copy_index")
        writing = Signal(name="slopes_copy_writing")
        write_index = Signal(range(groups), name="slopes_copy_write_index")
        pending = Signal(name="slopes_pending")
        m.d.comb += busy.eq(reading | writing | refresh)

        # Software writes into the shadow, whole slopes, when no copy runs.
        wrote = Signal(name="slopes_written")
        m.d.comb += [
            wrote.eq(bus["fire"] & bus["memory"]),
            write.addr.eq(bus["entry"]),
            write.data.eq(bus["data"][:width].replicate(lanes)),
            write.en.eq(Mux(wrote, 1 << bus["lane"], 0)),
        ]
        bus["write_stall"] = busy

        start = Signal(name="slopes_copy_start")
        m.d.comb += start.eq((pending | wrote) & boundary & ~busy)
        with m.If(start):
            m.d.sync += [pending.eq(0), reading.eq(1), read_index.eq(0)]
        with m.Elif(wrote):
            m.d.sync += pending.eq(1)
        # Copy: read shadow[i] on one cycle, write active[i] with it on the next; then one
        # cycle more for the active memory's read of the current group to see the new word.
        with m.If(reading):
            m.d.sync += [writing.eq(1), write_index.eq(read_index)]
            with m.If(read_index == groups - 1):
                m.d.sync += reading.eq(0)
            with m.Else():
                m.d.sync += read_index.eq(read_index + 1)
        with m.Else():
            m.d.sync += writing.eq(0)
        m.d.sync += refresh.eq(writing & ~reading)
        m.d.comb += [copy.addr.eq(write_index), copy.data.eq(shadow_read.data),
                     copy.en.eq(writing)]

        # Reads of SLOPE{c} share the shadow's read port with the copy, which goes first.
        # The read's address is registered first, its lane and entry and whether it lies in
        # the region; the memory's word comes a cycle later, and the lane's slope is
        # registered from it: data four cycles after the address.
        regmap = self._regmap
        addr = bus["slave"].r_addr
        base = regmap.slope_offset(0) // 4
        bits = (regmap.slope_lanes_stride - 1).bit_length()
        offset = addr - base
        lane, entry = offset[:bits], offset >> bits
        entry_q = Signal(range(max(groups, 2)), name="slopes_read_entry")
        lane_q = Signal(range(max(lanes, 2)), name="slopes_read_lane")
        inside = Signal(name="slopes_read_inside")
        m.d.sync += [entry_q.eq(entry), lane_q.eq(lane),
                     inside.eq((addr >= base) & (lane < lanes) & (entry < groups))]
        m.d.comb += [shadow_read.addr.eq(Mux(reading, read_index, entry_q)),
                     shadow_read.en.eq(1)]
        lane_d = Signal(range(max(lanes, 2)), name="slopes_read_lane_d")
        inside_d = Signal(name="slopes_read_inside_d")
        m.d.sync += [lane_d.eq(lane_q), inside_d.eq(inside)]
        hit = Signal(name="slopes_read_hit")
        data = Signal(DATA_BITS, name="slopes_read_data")
        m.d.sync += hit.eq(inside_d)
        with m.Switch(lane_d):
            for k in range(lanes):
                with m.Case(k):
                    m.d.sync += data.eq(shadow_read.data[k * width:(k + 1) * width])
        bus["read_memory"] = {"hit": hit, "data": data, "depth": _MEMORY_READ_LATENCY}
        bus["read_stall"] = busy
        return reading | writing, pending

    # Telemetry ---------------------------------------------------------------------------

    def _telemetry(self, m, bus):
        """Counters, ALIVE and the ring of their snapshots. Returns ``{"counters": names in
        ring order, "head": the ring's head word, "phase": one bit per counter, set for the
        one at the head, "alive": ALIVE's shadow bits, "busy": a snapshot is on its way,
        "snapped": a snapshot has been taken since reset, "settle": cycles after reset
        before the counters count}``.

        **Counters.** A counter is kept in segments of at most ``segment_bits`` bits, each
        with a pending carry in from the one below (the event for the lowest): every cycle a
        segment adds its carry in, and a segment of all ones with a carry in passes a carry
        up on the next cycle, so that no carry chain is longer than a segment. The count is
        the segments plus the pending carries; a carry out of the top segment sets a sticky
        saturation flag, so the count reads ``min(events, 2**counter_bits - 1)``. Events
        reach the counters :data:`EVENT_LATENCY` cycles after their output beat: the beat's
        flags and a copy of its handshake per counter group are registered, then ANDed.

        **Snapshots.** The shadows form a ring that turns every cycle, one word per counter
        (segments, carries and flag): the head holds each counter's snapshot in turn, which
        is how reads reach them without a wide multiplexer. ``SNAPSHOT`` waits for the turn
        that brings the ring home and then copies every counter into its word on the same
        cycle; reads wait while it is on its way. A write of ``CLEAR`` and ``SNAPSHOT``
        together clears on the snapshot's cycle, so the snapshot takes the counts before the
        clear.

        **Pulses.** ``CLEAR`` and ``SNAPSHOT`` are registered, then copied through trees
        (see :func:`_fanout`) into one copy per two segments of each counter and one per
        ALIVE, so that no flip-flop drives more than about ten others; every counter sees
        them on the same cycle. The counters, the ring and the trees have no reset (a reset
        through logic would put a LUT before every flip-flop's reset): a reset is a clear,
        and input ``ready`` is held low after reset until it has reached the counters."""
        spec = self._spec
        widths = _segments(self._counter_bits, self._segment_bits)
        starts = [sum(widths[:i]) for i in range(len(widths))]
        names = self._counter_names()
        n = len(names)
        # What a write to CONTROL asks for, registered from its held address, data and
        # strobes (a cycle after its select, which is within the write's decode), so that
        # the write itself is an AND of two flip-flops.
        select, strb, data = bus["select"]["CONTROL"], bus["strb"][0], bus["data"]
        asks_clear = Signal(name="control_asks_clear")
        asks_snapshot = Signal(name="control_asks_snapshot")
        asks_both = Signal(name="control_asks_both")
        m.d.sync += [asks_clear.eq(select & strb & data[0] & ~data[1]),
                     asks_snapshot.eq(select & strb & data[1]),
                     asks_both.eq(select & strb & data[0] & data[1])]
        fire = bus["fire"]

        # A copy of the pulses per group of segments of each counter and per ALIVE.
        groups = -(-len(widths) // _PULSE_SEGMENTS)
        users = n * groups + spec.lanes
        # A clear asked for alone or by a reset, and one that goes with a snapshot: ORed as
        # the tree takes them.
        clear_request = Signal(name="clear_request")
        clear_with_snapshot = Signal(name="clear_with_snapshot")
        snapshot_request = Signal(name="snapshot_request")
        clears, depth = _fanout(m, clear_request | clear_with_snapshot, users, "clear")
        snapshots, snapshot_depth = _fanout(m, snapshot_request, users, "snapshot")
        assert depth == snapshot_depth
        copies = list(zip(clears, snapshots))

        def take(count):
            return [copies.pop() for _ in range(count)]

        # The ring's phase: bit j is set when the head holds counter j. A snapshot enters its
        # tree on the turn that makes it reach the ring as the ring comes home.
        phase = Signal(n, init=1, name="ring_phase", reset_less=True)
        m.d.sync += phase.eq(Cat(phase[-1], phase[:-1]))
        snapshot_pending = Signal(name="snapshot_pending")
        clear_waits = Signal(name="clear_waits")
        reset_clear = Signal(init=1, name="reset_clear")
        enter = Signal(name="snapshot_enter")
        m.d.comb += enter.eq(snapshot_pending & phase[(n - 2 - depth) % n])
        m.d.sync += [
            reset_clear.eq(0),
            snapshot_request.eq(enter),
            snapshot_pending.eq((snapshot_pending & ~phase[(n - 2 - depth) % n]) |
                                (fire & asks_snapshot)),
            # Cleared on the cycle after the snapshot enters, which takes it along.
            clear_waits.eq((clear_waits & ~snapshot_request) | (fire & asks_both)),
            clear_request.eq(reset_clear | (fire & asks_clear)),
            clear_with_snapshot.eq(enter & clear_waits),
        ]
        # A snapshot is on its way from its write until the resolved head has passed the
        # ring's new contents through.
        head_depth = self._read_depths()["head"]
        flight = Signal(depth + 1 + head_depth, name="snapshot_flight")
        m.d.sync += flight.eq(Cat(snapshot_request, flight[:-1]))
        # A read comes at least a response's handshake after the write: the cycle this is
        # late by does not matter.
        busy = _or_levels(m, [snapshot_pending, snapshot_request, *flight], "snapshot_busy")
        snapped = Signal(name="snapshot_taken")
        m.d.sync += snapped.eq(snapped | flight[-1])

        # Events, EVENT_LATENCY cycles after their beat.
        o_valid, o_ready = self.o.valid, self.o.ready
        events = self.core.o.payload.events

        def handshake(prefix):
            copy = Signal(name=f"{prefix}_fire", reset_less=True)
            m.d.sync += copy.eq(o_valid & o_ready)
            return copy

        def flag(name, value):
            copy = Signal(name=name, reset_less=True)
            m.d.sync += copy.eq(value)
            return copy

        def event(name, value):
            copy = Signal(name=name, reset_less=True)
            m.d.sync += copy.eq(value)
            return copy

        def pulses(prefix, clear, snapshot):
            # Names for the counter's copies of both pulses.
            clear_copy = Signal(name=f"{prefix}_clear")
            snapshot_copy = Signal(name=f"{prefix}_snapshot")
            m.d.comb += [clear_copy.eq(clear), snapshot_copy.eq(snapshot)]
            return clear_copy, snapshot_copy

        live = {}
        loads = {}

        def counter(name, event, copies):
            # Segment group g takes the g-th copy of the pulses.
            segments = [Signal(w, name=f"{name}_seg{i}", reset_less=True)
                        for i, w in enumerate(widths)]
            carries = [Signal(name=f"{name}_carry{i}", reset_less=True)
                       for i in range(1, len(widths))]
            saturated = Signal(name=f"{name}_sat", reset_less=True)
            carry_in = [event, *carries]
            # Group 0's copies carry the counter's name (the proofs read them).
            group_pulses = [pulses(name if g == 0 else f"{name}_{g}", *copy)
                            for g, copy in enumerate(copies)]
            for i, segment in enumerate(segments):
                clear, _ = group_pulses[i // _PULSE_SEGMENTS]
                carry = [carries[i - 1]] if i else []
                top = i == len(segments) - 1
                with m.If(clear):
                    # An event on the clear's own cycle counts in the new window.
                    m.d.sync += [segment.eq(event if i == 0 else 0),
                                 *(c.eq(0) for c in carry)]
                    if top:
                        m.d.sync += saturated.eq(0)
                with m.Else():
                    m.d.sync += segment.eq(segment + carry_in[i])
                    if i:
                        m.d.sync += carry[0].eq(carry_in[i - 1] & segments[i - 1].all())
                    if top:
                        m.d.sync += saturated.eq(saturated |
                                                 (carry_in[i] & segment.all()))
            return Cat(*segments, *carries, saturated), [s for _, s in group_pulses]

        register = {"BEATS": "beats", "FRAMES": "frames"}
        beats_fire = handshake("beats")
        live["BEATS"], loads["BEATS"] = counter("beats", event("beat_event", beats_fire),
                                                take(groups))
        frames_fire = handshake("frames")
        frames_last = flag("frames_last", self.o.payload.last)
        live["FRAMES"], loads["FRAMES"] = counter(
            "frames", event("frame_event", frames_fire & frames_last), take(groups))
        alive_shadows = []
        for k in range(spec.lanes):
            lane_fire = handshake(f"lane{k}")
            flags = {name: flag(f"lane{k}_{name}_flag", events[k][name])
                     for name in EVENT_FLAGS
                     if name == "zero" or f"{_COUNTER[name]}{k}" in names}
            for name in EVENT_FLAGS:
                reg = f"{_COUNTER[name]}{k}"
                if reg not in names:
                    continue
                register[reg] = f"lane{k}_{name}"
                live[reg], loads[reg] = counter(
                    f"lane{k}_{name}", event(f"lane{k}_{name}_event", lane_fire & flags[name]),
                    take(groups))
            clear, snapshot = pulses(f"lane{k}_alive", *copies.pop())
            nonzero = event(f"lane{k}_nonzero_event", lane_fire & ~flags["zero"])
            alive = Signal(name=f"lane{k}_alive", reset_less=True)
            m.d.sync += alive.eq((alive & ~clear) | nonzero)
            shadow = Signal(name=f"lane{k}_alive_shadow", reset_less=True)
            with m.If(snapshot):
                m.d.sync += shadow.eq(alive)
            alive_shadows.append(shadow)
        assert not copies and sorted(live) == sorted(names)

        # The ring: word p holds counter (p + phase) mod n; on a snapshot (when the phase
        # comes back to 0) word p takes counter p, each group of segments with its own copy
        # of the pulse.
        width = len(live[names[0]])
        ring = [Signal(width, name=f"ring{p}", reset_less=True) for p in range(n)]
        bits = self._counter_bits
        for p, name in enumerate(names):
            following = ring[(p + 1) % n]
            for i, (low, w) in enumerate(zip(starts, widths)):
                load = loads[name][i // _PULSE_SEGMENTS]
                parts = [(low, low + w)]
                if i:
                    parts.append((bits + i - 1, bits + i))
                if i == len(widths) - 1:
                    parts.append((width - 1, width))
                for lo, hi in parts:
                    m.d.sync += ring[p][lo:hi].eq(Mux(load, live[name][lo:hi],
                                                      following[lo:hi]))
        return {"counters": names, "head": ring[0], "phase": phase, "ring": ring,
                "registers": register, "alive": Cat(*alive_shadows), "busy": busy,
                "snapped": snapped, "settle": depth + 2}


def _fanout(m, source, count, name):
    """``count`` copies of the pulse ``source``, all registered the same number of times,
    through a tree in which no flip-flop drives more than four others, with no logic
    between them; returns the copies and that number of times.

    Synthesis merges flip-flops with the same input, initial value and reset, which would
    undo the tree; so the four children of a node differ: starting at 0 or at 1, each with
    or without the domain's reset (to its starting value). Those that start at 1 pulse at
    configuration and after a reset, on their way out of the tree: a partial clear or
    snapshot, which the clear that follows every reset and the snapshot flag
    (``snapshot_taken``, which gates reads of the snapshot) make harmless."""
    level, depth = [source], 0
    while len(level) * 4 < count:
        children = []
        for parent in level:
            for v in range(4):
                copy = Signal(init=v >> 1, reset_less=bool(v & 1),
                              name=f"{name}_fan{depth}_{len(children)}")
                m.d.sync += copy.eq(parent)
                children.append(copy)
        level = children[:-(-count // 4)] if len(children) * 4 >= count else children
        depth += 1
    leaves = []
    for i, parent in enumerate(level):
        for v in range(4):
            copy = Signal(init=v >> 1, reset_less=bool(v & 1), name=f"{name}_leaf{i}_{v}")
            m.d.sync += copy.eq(parent)
            leaves.append(copy)
    assert depth + 1 == _fanout_depth(count)
    return leaves[:count], depth + 1


def _fanout_depth(count):
    """The registers from the source of :func:`_fanout` to its ``count`` copies."""
    parents, depth = 1, 0
    while parents * 4 < count:
        parents, depth = min(parents * 4, -(-count // 4)), depth + 1
    return depth + 1


def _word_decoder(m, addr, prefix):
    """A word address decoder in two registered stages: ``selected(word)`` is the AND of at
    most four registered equalities of ``addr``'s 4-bit pieces (shared by every word that
    asks for them), to be registered by the caller."""
    pieces = {}

    def piece_is(c, v):
        if (c, v) not in pieces:
            flag = Signal(name=f"{prefix}_a{c}_{v:x}")
            m.d.sync += flag.eq(addr[4 * c:4 * c + 4] == v)
            pieces[(c, v)] = flag
        return pieces[(c, v)]

    def selected(word):
        return Cat(*(piece_is(c, (word >> 4 * c) & 15)
                     for c in range(-(-len(addr) // 4)))).all()
    return selected


def _levels(count):
    """Registered levels of 4-input ORs that reduce ``count`` values to one."""
    levels = 0
    while count > 1:
        count, levels = -(-count // 4), levels + 1
    return levels


def _or_levels(m, values, name):
    """The OR of ``values`` through :func:`_levels` registered levels of 4-input ORs."""
    level, n = list(values), 0
    while len(level) > 1:
        grouped = []
        for j in range(0, len(level), 4):
            node = Signal(len(Value.cast(level[j])), name=f"{name}{n}_{j // 4}")
            m.d.sync += node.eq(_or(level[j:j + 4]))
            grouped.append(node)
        level, n = grouped, n + 1
    return level[0]


def _delay(m, value, cycles, name):
    """``value`` registered ``cycles`` times."""
    for i in range(cycles):
        reg = Signal(len(Value.cast(value)), name=f"{name}{i}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def _segments(bits, segment_bits):
    """The widths of a ``bits``-bit counter's segments, lowest first."""
    return [min(segment_bits, bits - low) for low in range(0, bits, segment_bits)]


def _or(values):
    """The OR of ``values``."""
    values = list(values)
    out = values[0]
    for value in values[1:]:
        out = out | value
    return out


def _merge(shadow, data, strb):
    """``shadow`` with the bytes of ``data`` whose strobe is set (only the field's bits)."""
    width = shadow.shape().width
    raw = shadow.as_unsigned()
    parts = []
    for j in range(-(-width // 8)):
        lo, hi = 8 * j, min(8 * (j + 1), width)
        parts.append(Mux(strb[j], data[lo:hi], raw[lo:hi]))
    merged = Cat(*parts)
    return merged.as_signed() if shadow.shape().signed else merged
