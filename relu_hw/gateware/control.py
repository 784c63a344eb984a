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
    before they count, and the pulses with them, so that a snapshot sees every counter at the
    same beat.

    Parameters
    ----------
    spec : Spec
        Control ``axi-lite``, or more channels than lanes.
    counter_bits : int
        Width of the counters (32; proofs use fewer to reach saturation).

    Members
    -------
    i : In(stream.Signature(payload_layout(format_shape(input_format), lanes, user_width)))
    o : Out(stream.Signature(payload_layout(format_shape(output_format), lanes, user_width)))
    axil : In(AXI4LiteSignature(address_width))
        With control ``axi-lite`` only.

    Latency and throughput are the pipeline's; with per-channel slopes input ``ready`` is also
    low on the first cycle after reset (the slope memory's first read).
    """

    def __init__(self, spec, counter_bits=REGISTER_BITS):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        if not needs_controller(spec):
            raise ValueError("ControlledActivation needs control 'axi-lite' or more channels "
                             "than lanes")
        if isinstance(counter_bits, bool) or not isinstance(counter_bits, int) or \
                not 1 <= counter_bits <= REGISTER_BITS:
            raise ValueError(f"Counter width must be an integer from 1 to {REGISTER_BITS}, "
                             f"not {counter_bits!r}")
        self._spec = spec
        self._counter_bits = counter_bits
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
        """The AXI4-Lite slave and the write side of the register file. Write decodes are
        registered a cycle after the request appears, and the write happens the cycle after
        (``fire``), so that no decode lies between the bus and the registers it writes."""
        regmap = self._regmap
        m.submodules.axil = slave = AXI4LiteSlave(regmap.address_width)
        wiring.connect(m, wiring.flipped(self.axil), slave.axil)
        addr = slave.w_addr
        decoded = Signal(name="reg_write_decoded")
        fire = Signal(name="reg_write_fire")
        select = {}
        writable = [r for r in regmap if r.access == "rw" and r.kind != "slope"]
        for reg in writable:
            select[reg.name] = Signal(name=f"reg_write_{reg.name.lower()}")
            m.d.sync += select[reg.name].eq(addr == reg.word)
        memory_stride = regmap.slope_lanes_stride if self._spec.channel_groups > 1 else 0
        slope_words = [r for r in regmap if r.kind == "slope"]
        if slope_words and not memory_stride:
            for reg in slope_words:
                select[reg.name] = Signal(name=f"reg_write_{reg.name.lower()}")
                m.d.sync += select[reg.name].eq(addr == reg.word)
        in_memory = Signal(name="reg_write_memory")
        memory_lane = Signal(range(max(memory_stride, 2)), name="reg_write_lane")
        memory_entry = Signal(range(max(self._spec.channel_groups, 2)),
                              name="reg_write_entry")
        error = Signal(name="reg_write_error")
        hit = Cat(*(addr == r.word for r in writable),
                  *(addr == r.word for r in slope_words if not memory_stride)).any()
        if memory_stride:
            base = slope_words[0].word
            offset = addr - base
            lane = offset[:(memory_stride - 1).bit_length()]
            entry = offset >> (memory_stride - 1).bit_length()
            inside = (addr >= base) & (lane < self._spec.lanes) & \
                (entry < self._spec.channel_groups)
            # The memory takes whole words: a write that leaves out a byte of the slope is an
            # error.
            field_bytes = -(-slope_words[0].fields[0].width // 8)
            whole = slave.w_strb[:field_bytes].all()
            m.d.sync += [in_memory.eq(inside & whole), memory_lane.eq(lane),
                         memory_entry.eq(entry)]
            hit = hit | (inside & whole)
        m.d.sync += error.eq(~hit)
        m.d.sync += decoded.eq(slave.w_valid & ~fire)
        return {"slave": slave, "fire": fire, "decoded": decoded, "select": select,
                "data": slave.w_data, "strb": slave.w_strb, "error": error,
                "memory": in_memory, "lane": memory_lane, "entry": memory_entry}

    def _reads(self, m, bus, telemetry, registers, status):
        """The read side: a word's value, through two registered levels of multiplexers (16
        words each, then the groups), two cycles after the request appears."""
        regmap, slave = self._regmap, bus["slave"]
        values = {}
        for reg in regmap:
            if reg.kind == "const":
                values[reg.word] = Const(reg.reset, DATA_BITS)
            elif reg.kind == "control":
                values[reg.word] = Const(0, DATA_BITS)
            elif reg.kind == "status":
                values[reg.word] = status
            elif reg.kind in ("param", "slope") and reg.name in registers:
                values[reg.word] = registers[reg.name][0].as_unsigned()
            elif reg.kind in ("counter", "alive"):
                values[reg.word] = telemetry[reg.name]
        addr = slave.r_addr
        buckets = {}
        for word, value in values.items():
            buckets.setdefault(word >> 4, {})[word & 15] = value
        level = {}
        for b, entries in buckets.items():
            data = Signal(DATA_BITS, name=f"reg_read_{b:x}")
            hit = Signal(name=f"reg_read_{b:x}_hit")
            with m.Switch(addr[:4]):
                for low, value in sorted(entries.items()):
                    with m.Case(low):
                        m.d.sync += [data.eq(value), hit.eq(1)]
                with m.Default():
                    m.d.sync += [data.eq(0), hit.eq(0)]
            level[b] = (data, hit)
        read_data = Signal(DATA_BITS, name="reg_read_data")
        read_hit = Signal(name="reg_read_hit")
        with m.Switch(addr[4:]):
            for b, (data, hit) in sorted(level.items()):
                with m.Case(b):
                    m.d.sync += [read_data.eq(data), read_hit.eq(hit)]
            with m.Default():
                m.d.sync += [read_data.eq(0), read_hit.eq(0)]
        memory = bus.get("read_memory")
        if memory is not None:
            # The slope region lies above every register; the memory read wins there.
            with m.If(memory["hit"]):
                m.d.sync += [read_data.eq(memory["data"]), read_hit.eq(1)]
        wait = Signal(range(3), name="reg_read_wait")
        ack = Signal(name="reg_read_ack")
        m.d.comb += ack.eq(slave.r_valid & (wait == 2))
        with m.If(~slave.r_valid | ack | bus.get("read_stall", 0)):
            m.d.sync += wait.eq(0)
        with m.Elif(wait != 2):
            m.d.sync += wait.eq(wait + 1)
        m.d.comb += [slave.r_ready.eq(ack), slave.r_data.eq(read_data),
                     slave.r_error.eq(~read_hit)]

        # Writes: ready once decoded, unless a slope write meets a copy.
        stall = bus["memory"] & bus.get("write_stall", 0)
        m.d.comb += [slave.w_ready.eq(bus["decoded"] & ~stall),
                     slave.w_error.eq(bus["error"]),
                     bus["fire"].eq(slave.w_valid & slave.w_ready)]

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
        regmap = self._regmap
        addr = bus["slave"].r_addr
        base = regmap.slope_offset(0) // 4
        bits = (regmap.slope_lanes_stride - 1).bit_length()
        offset = addr - base
        lane, entry = offset[:bits], offset >> bits
        inside = (addr >= base) & (lane < lanes) & (entry < groups)
        m.d.comb += [shadow_read.addr.eq(Mux(reading, read_index, entry)),
                     shadow_read.en.eq(1)]
        lane_q = Signal(range(max(lanes, 2)), name="slopes_read_lane")
        hit = Signal(name="slopes_read_hit")
        m.d.sync += [lane_q.eq(lane), hit.eq(inside)]
        lane_words = [shadow_read.data[k * width:(k + 1) * width] for k in range(lanes)]
        data = Signal(DATA_BITS, name="slopes_read_data")
        with m.Switch(lane_q):
            for k, word in enumerate(lane_words):
                with m.Case(k):
                    m.d.comb += data.eq(word)
        bus["read_memory"] = {"hit": hit, "data": data}
        bus["read_stall"] = busy
        return reading | writing, pending

    # Telemetry ---------------------------------------------------------------------------

    def _telemetry(self, m, bus):
        """Counters and ALIVE with their shadows; returns ``{register name: shadow value}``.

        ``CLEAR`` and ``SNAPSHOT`` pulses are registered per lane (and once for the stream
        counters), so that no one flip-flop drives every counter."""
        spec, regmap, bits = self._spec, self._regmap, self._counter_bits
        fire = bus["fire"] & bus["select"]["CONTROL"]
        clear_request = fire & bus["strb"][0] & bus["data"][0]
        snapshot_request = fire & bus["strb"][0] & bus["data"][1]
        o_fire = self.o.valid & self.o.ready
        events = self.core.o.payload.events
        out = {}

        def pulses(prefix):
            clear = Signal(name=f"{prefix}_clear")
            snapshot = Signal(name=f"{prefix}_snapshot")
            m.d.sync += [clear.eq(clear_request), snapshot.eq(snapshot_request)]
            return clear, snapshot

        def counter(name, event, clear, snapshot):
            # One bit more than the count: the top bit set means "at least 2**bits events",
            # and the count stops there, so the value read is min(events, 2**bits - 1).
            count = Signal(bits + 1, name=f"{name}_count")
            with m.If(clear):
                m.d.sync += count.eq(event)
            with m.Elif(event & ~count[-1]):
                m.d.sync += count.eq(count + 1)
            value = Mux(count[-1], (1 << bits) - 1, count[:bits])
            shadow = Signal(bits, name=f"{name}_shadow")
            with m.If(snapshot):
                m.d.sync += shadow.eq(value)
            return shadow

        clear, snapshot = pulses("stream")
        beat = Signal(name="beat_event")
        frame = Signal(name="frame_event")
        m.d.sync += [beat.eq(o_fire), frame.eq(o_fire & self.o.payload.last)]
        out["BEATS"] = counter("beats", beat, clear, snapshot)
        out["FRAMES"] = counter("frames", frame, clear, snapshot)
        alive_shadows = []
        for k in range(spec.lanes):
            clear, snapshot = pulses(f"lane{k}")
            for name in EVENT_FLAGS:
                register = f"{_COUNTER[name]}{k}"
                if register not in regmap:
                    continue
                event = Signal(name=f"lane{k}_{name}_event")
                m.d.sync += event.eq(o_fire & events[k][name])
                out[register] = counter(f"lane{k}_{name}", event, clear, snapshot)
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
