# SPDX-License-Identifier: Apache-2.0
"""What software drives and watches: the activation pipeline with per-channel slopes, runtime
parameters that change only at frame boundaries, telemetry counters, and the register file
behind an AXI4-Lite slave."""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from ..regmap import RegisterMap
from ..spec import REGISTER_BITS, Spec
from .axil import DATA_BITS, AXI4LiteSignature, AXI4LiteSlave
from .datapath import EVENT_FLAGS, format_shape, slope_operand
from .pipeline import ActivationPipeline, payload_layout

__all__ = ["ControlledActivation", "needs_controller"]

#: Bits of a counter segment: a carry chain no longer than this, and every next-state
#: function of a counter within one 4-input LUT.
SEGMENT_BITS = 3
# Segments of a counter that share a copy of the CLEAR and SNAPSHOT pulses.
_PULSE_SEGMENTS = 2

# Cycles from a read's address to the slope memory's registered word for it.
_MEMORY_READ_LATENCY = 4

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
    value. ``CLEAR`` zeroes them (an event on the clear's own cycle counts in the new window);
    ``SNAPSHOT`` copies them into the shadows that reads return. Events are registered once
    before they count, and the pulses pass through a tree of registers that reaches every
    counter on the same cycle, so that a snapshot sees every counter at the same beat.
    Counters are kept as segments with pending carries (see ``segment_bits``); the read path
    adds the carries in, so a read returns exactly the count at the snapshot's cycle. Reads
    take ``read_latency`` cycles from the address to the data.

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

    Latency and throughput are the pipeline's; with per-channel slopes input ``ready`` is also
    low on the first cycle after reset (the slope memory's first read).
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

    @property
    def read_latency(self):
        """Cycles from a read's address to its data (the read pipeline's depth), with no
        stall: the address decode (two stages), pairs of words, a level of ORs per factor of
        four in their number, a stage per pending carry of a counter, the join."""
        if self._regmap is None:
            return None
        carries = len(_segments(self._counter_bits, self._segment_bits)) - 1
        # Pieces, word flags, pairs, the OR levels, the carries.
        depth, nodes = 3, -(-self._read_words() // 2)
        while nodes > 1:
            depth, nodes = depth + 1, -(-nodes // 4)
        depth += carries
        if self._spec.channel_groups > 1 and "slope" in self._spec.runtime:
            depth = max(depth, _MEMORY_READ_LATENCY)
        return depth + 1

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
        # first cycle after reset, when its first read is on its way).
        busy = Signal(name="slopes_busy") if memory else Const(0, 1)
        in_fire = self.i.valid & self.i.ready
        last = self.i.payload.last
        m.d.comb += [
            core.i.valid.eq(self.i.valid & ~busy),
            self.i.ready.eq(core.i.ready & ~busy),
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
        word_bits = len(addr)
        fire = Signal(name="reg_write_fire")
        pieces = {}

        def piece_is(c, v):
            # Stage 1: a registered equality of address bits [4c, 4c + 4) with v.
            if (c, v) not in pieces:
                flag = Signal(name=f"reg_write_a{c}_{v:x}")
                m.d.sync += flag.eq(addr[4 * c:4 * c + 4] == v)
                pieces[(c, v)] = flag
            return pieces[(c, v)]

        def selected(word):
            # Stage 2: the register's select.
            return Cat(*(piece_is(c, (word >> 4 * c) & 15)
                         for c in range(-(-word_bits // 4)))).all()

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
        level = 0
        while len(hits) > 1:
            grouped = []
            for j in range(0, len(hits), 4):
                hit = Signal(name=f"reg_write_hit{level}_{j // 4}")
                m.d.sync += hit.eq(Cat(*hits[j:j + 4]).any())
                grouped.append(hit)
            hits, level = grouped, level + 1
        error = Signal(name="reg_write_error")
        m.d.sync += error.eq(~hits[0] if hits else 1)
        # The request has been seen for `depth` cycles when the last bit of `seen` is set.
        depth = level + 3
        seen = Signal(depth, name="reg_write_seen")
        # The request holds until it is taken, so the last bit implies it.
        m.d.sync += seen.eq(Cat(slave.w_valid, seen[:-1]) & ~fire.replicate(depth))
        return {"slave": slave, "fire": fire, "decoded": seen[-1], "select": select,
                "data": slave.w_data, "strb": slave.w_strb, "error": error,
                "memory": in_memory, "lane": memory_lane, "entry": memory_entry}

    def _read_words(self):
        """How many words the register file reads from flip-flops (all but the slopes in a
        memory)."""
        memory = slope_operand(self._spec) is not None and self._spec.channel_groups > 1
        return sum(1 for r in self._regmap if not (r.kind == "slope" and memory))

    def _reads(self, m, bus, telemetry, registers, status):
        """The read side, a pipeline that the word address of a read (which holds until the
        data is taken) flows through: registered equalities of its 4-bit pieces, then a
        registered select flag per word (an AND of at most four of them, each flag a
        different function, so that synthesis keeps every one), then pairs of words, each
        ANDed with its flag and ORed, then registered levels of 4-input ORs, then the
        resolution of the counters' pending carries (a stage per segment boundary), then one
        register that joins the slope memory's read. Every word carries the pending carries
        and the saturation flag of a counter (zero for other registers). The data is taken
        once the address has been held, with no stall, for as many cycles as the pipeline
        is deep."""
        regmap, slave = self._regmap, bus["slave"]
        widths = _segments(self._counter_bits, self._segment_bits)
        starts = [sum(widths[:i]) for i in range(len(widths))]
        carry_bits = len(widths) - 1
        zero_carries = Const(0, carry_bits)
        values = {}
        for reg in regmap:
            value = None
            if reg.kind == "const":
                value = Const(reg.reset, DATA_BITS)
            elif reg.kind == "control":
                value = Const(0, DATA_BITS)
            elif reg.kind == "status":
                value = status
            elif reg.kind in ("param", "slope") and reg.name in registers:
                value = registers[reg.name][0].as_unsigned()
            elif reg.kind == "alive":
                value = telemetry[reg.name]
            if value is not None:
                values[reg.word] = Cat(value, Const(0, DATA_BITS - len(value)), zero_carries,
                                       Const(0, 1))
            elif reg.kind == "counter":
                segments, carries, saturated = telemetry[reg.name]
                values[reg.word] = Cat(segments, Const(0, DATA_BITS - len(segments)),
                                       carries, saturated)
        assert len(values) == self._read_words()
        width = DATA_BITS + carry_bits + 1
        addr = slave.r_addr
        word_bits = len(addr)
        pieces = {}

        def piece_is(c, v):
            if (c, v) not in pieces:
                flag = Signal(name=f"reg_read_a{c}_{v:x}")
                m.d.sync += flag.eq(addr[4 * c:4 * c + 4] == v)
                pieces[(c, v)] = flag
            return pieces[(c, v)]

        # The hit travels as the word's top bit.
        nodes = []
        for word, value in sorted(values.items()):
            flag = Signal(name=f"reg_read_word_{word:x}")
            m.d.sync += flag.eq(Cat(*(piece_is(c, (word >> 4 * c) & 15)
                                      for c in range(-(-word_bits // 4)))).all())
            nodes.append((flag, Cat(value, Const(1, 1))))
        depth = 2
        level = []
        for j in range(0, len(nodes), 2):
            pair = Signal(width + 1, name=f"reg_read_pair{j // 2}")
            # ANDs, not multiplexers with a zero input, which synthesis would turn into a
            # synchronous reset driven through a LUT.
            m.d.sync += pair.eq(_or(value & flag.replicate(len(value))
                                    for flag, value in nodes[j:j + 2]))
            level.append(pair)
        depth += 1
        n = 0
        while len(level) > 1:
            grouped = []
            for j in range(0, len(level), 4):
                node = Signal(width + 1, name=f"reg_read_or{n}_{j // 4}")
                m.d.sync += node.eq(_or(level[j:j + 4]))
                grouped.append(node)
            level, n, depth = grouped, n + 1, depth + 1
        data, hit = level[0][:width], level[0][width]
        # Resolution: each stage adds every segment's pending carry into it; a carry out of
        # the top segment saturates.
        segments = data[:DATA_BITS]
        carries = data[DATA_BITS:DATA_BITS + carry_bits]
        saturated = data[-1]
        for stage in range(carry_bits):
            next_segments = Signal(DATA_BITS, name=f"reg_read_resolve{stage}")
            next_carries = Signal(carry_bits, name=f"reg_read_resolve{stage}_carries")
            next_saturated = Signal(name=f"reg_read_resolve{stage}_saturated")
            next_hit = Signal(name=f"reg_read_resolve{stage}_hit")
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
                next_segments.eq(Cat(*parts, segments[self._counter_bits:])),
                next_saturated.eq(saturated | (carries[-1] & top.all())),
                next_hit.eq(hit),
            ]
            segments, carries, saturated, hit = (next_segments, next_carries, next_saturated,
                                                 next_hit)
            depth += 1
        top_value = Const((1 << self._counter_bits) - 1, DATA_BITS)
        resolved = segments | Mux(saturated, top_value, 0)
        read_data = Signal(DATA_BITS, name="reg_read_data")
        read_hit = Signal(name="reg_read_hit")
        memory = bus.get("read_memory")
        if memory is not None:
            # The slope region lies above every register; the memory read wins there.
            m.d.sync += [read_data.eq(resolved | Mux(memory["hit"], memory["data"], 0)),
                         read_hit.eq(hit | memory["hit"])]
            depth = max(depth, memory["depth"])
        else:
            m.d.sync += [read_data.eq(resolved), read_hit.eq(hit)]
        depth += 1
        assert depth == self.read_latency
        ack = Signal(name="reg_read_ack")
        if "read_stall" in bus:
            # The address has been held with no stall for `depth` cycles when the last bit of
            # `seen` is set; the data is taken (`ack`) on the next cycle.
            go = Signal(name="reg_read_go")
            seen = Signal(depth, name="reg_read_seen")
            m.d.comb += go.eq(slave.r_valid & ~bus["read_stall"] & ~ack)
            m.d.sync += [seen.eq(Mux(go, Cat(1, seen[:-1]), 0)),
                         ack.eq(go & seen[-2] if depth > 1 else go)]
        else:
            # One token per read enters with the address and comes out as `ack` `depth`
            # cycles later, with the data of that address.
            started = Signal(name="reg_read_started")
            token = Signal(depth - 1, name="reg_read_token")
            m.d.sync += [started.eq((started | slave.r_valid) & ~ack),
                         token.eq(Cat(slave.r_valid & ~started & ~ack, token[:-1])),
                         ack.eq(token[-1])]
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
        """Counters and ALIVE with their shadows; returns ``{register name: shadow}``, for a
        counter its ``(segments, pending carries, saturated)``, for ALIVE its bits.

        A counter is kept in segments of at most ``segment_bits`` bits, each with a pending
        carry in from the one below (the event for the lowest): every cycle a segment adds its
        carry in, and a segment of all ones with a carry in passes a carry up on the next
        cycle, so that no carry chain is longer than a segment. The count is the segments plus
        the pending carries; a carry out of the top segment sets a sticky saturation flag, so
        the count reads ``min(events, 2**counter_bits - 1)``. ``SNAPSHOT`` copies segments,
        carries and flag into the shadow in one cycle; the read path adds the carries in.

        ``CLEAR`` and ``SNAPSHOT`` are registered, then copied through a tree (see
        :func:`_fanout`) into one copy per two segments of each counter and one per ALIVE, so
        that no flip-flop drives more than about ten others; every counter sees them on the
        same cycle. Events are registered once before they count."""
        spec, regmap = self._spec, self._regmap
        widths = _segments(self._counter_bits, self._segment_bits)
        fire = bus["fire"] & bus["select"]["CONTROL"]
        clear_request = Signal(name="clear_request")
        snapshot_request = Signal(name="snapshot_request")
        m.d.sync += [clear_request.eq(fire & bus["strb"][0] & bus["data"][0]),
                     snapshot_request.eq(fire & bus["strb"][0] & bus["data"][1])]
        o_fire = self.o.valid & self.o.ready
        events = self.core.o.payload.events
        out = {}

        def pulses(prefix, clear, snapshot):
            # Names for the counter's copies of both pulses.
            clear_copy = Signal(name=f"{prefix}_clear")
            snapshot_copy = Signal(name=f"{prefix}_snapshot")
            m.d.comb += [clear_copy.eq(clear), snapshot_copy.eq(snapshot)]
            return clear_copy, snapshot_copy

        groups = -(-len(widths) // _PULSE_SEGMENTS)

        def counter(name, event, copies):
            # Segment group g takes the g-th copy of the pulses.
            segments = [Signal(w, name=f"{name}_seg{i}") for i, w in enumerate(widths)]
            carries = [Signal(name=f"{name}_carry{i}") for i in range(1, len(widths))]
            saturated = Signal(name=f"{name}_sat")
            shadow = [Signal(w, name=f"{name}_shadow{i}") for i, w in enumerate(widths)]
            shadow_carries = [Signal(name=f"{name}_shadow_carry{i}")
                              for i in range(1, len(widths))]
            shadow_saturated = Signal(name=f"{name}_shadow_sat")
            carry_in = [event, *carries]
            # Group 0's copies carry the counter's name (the proofs read them).
            group_pulses = [pulses(name if g == 0 else f"{name}_{g}", *copy)
                            for g, copy in enumerate(copies)]
            for i, segment in enumerate(segments):
                clear, snapshot = group_pulses[i // _PULSE_SEGMENTS]
                # The carry into this segment, and for the top segment the saturation flag,
                # go with it.
                carry = [carries[i - 1]] if i else []
                shadow_carry = [shadow_carries[i - 1]] if i else []
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
                with m.If(snapshot):
                    m.d.sync += [shadow[i].eq(segment),
                                 *(sc.eq(c) for sc, c in zip(shadow_carry, carry))]
                    if top:
                        m.d.sync += shadow_saturated.eq(saturated)
            return Cat(*shadow), Cat(*shadow_carries), shadow_saturated

        # A copy of the pulses per group of segments of each counter and per ALIVE.
        counters = 2 + sum(f"{_COUNTER[name]}{k}" in regmap for name in EVENT_FLAGS
                           for k in range(spec.lanes))
        users = counters * groups + spec.lanes
        copies = list(zip(_fanout(m, clear_request, users, "clear"),
                          _fanout(m, snapshot_request, users, "snapshot")))

        def take(n):
            return [copies.pop() for _ in range(n)]

        beat = Signal(name="beat_event")
        frame = Signal(name="frame_event")
        m.d.sync += [beat.eq(o_fire), frame.eq(o_fire & self.o.payload.last)]
        out["BEATS"] = counter("beats", beat, take(groups))
        out["FRAMES"] = counter("frames", frame, take(groups))
        alive_shadows = []
        for k in range(spec.lanes):
            for name in EVENT_FLAGS:
                register = f"{_COUNTER[name]}{k}"
                if register not in regmap:
                    continue
                event = Signal(name=f"lane{k}_{name}_event")
                m.d.sync += event.eq(o_fire & events[k][name])
                out[register] = counter(f"lane{k}_{name}", event, take(groups))
            clear, snapshot = pulses(f"lane{k}_alive", *copies.pop())
            nonzero = Signal(name=f"lane{k}_nonzero_event")
            m.d.sync += nonzero.eq(o_fire & ~events[k].zero)
            alive = Signal(name=f"lane{k}_alive")
            m.d.sync += alive.eq((alive & ~clear) | nonzero)
            shadow = Signal(name=f"lane{k}_alive_shadow")
            with m.If(snapshot):
                m.d.sync += shadow.eq(alive)
            alive_shadows.append(shadow)
        out["ALIVE"] = Cat(*alive_shadows)
        return out


def _fanout(m, source, count, name):
    """``count`` copies of the pulse ``source``, all registered the same number of times,
    through a tree in which no flip-flop drives more than four others.

    Synthesis merges flip-flops with the same input, initial value and reset, which would
    undo the tree; so siblings differ. Inside the tree, four kinds: holding the pulse or its
    complement (starting at 1, so that neither pulses after reset), each with or without the
    domain's reset. The leaves, three kinds: without reset, reset to 0, or reset to 1 (which
    pulses at configuration and on the cycle after a reset, when the counters are zero and
    no event has reached them yet)."""
    level = [(source, False)]                # (signal, holds the complement)
    depth = 0
    while len(level) * 3 < count:
        children = []
        for i, (parent, inverted) in enumerate(level):
            for v in range(4):
                invert = bool(v & 2)
                copy = Signal(init=int(invert), reset_less=bool(v & 1),
                              name=f"{name}_fan{depth}_{len(children)}")
                m.d.sync += copy.eq(~parent if invert != inverted else parent)
                children.append((copy, invert))
        level = children[:-(-count // 3)] if len(children) * 3 >= count else children
        depth += 1
    leaves = []
    for i, (parent, inverted) in enumerate(level):
        pulse = ~parent if inverted else parent
        for v in range(3):
            copy = Signal(init=int(v == 2), reset_less=v == 0, name=f"{name}_leaf{i}_{v}")
            m.d.sync += copy.eq(pulse)
            leaves.append(copy)
    return leaves[:count]


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
