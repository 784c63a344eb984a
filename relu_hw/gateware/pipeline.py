# SPDX-License-Identifier: Apache-2.0
"""The stream-to-stream activation pipeline."""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..spec import Spec
from .datapath import (EVENT_FLAGS, LaneDatapath, choose, format_shape, runtime_shapes,
                       slope_operand)

__all__ = ["payload_layout", "params_layout", "events_layout", "ActivationPipeline",
           "CONTROL_GROUP_BITS"]

#: With registered ready, one copy of the control flip-flops per this many data bits (at least
#: one lane): bounds the fanout of each valid flag, which otherwise limits Fmax of wide blocks.
CONTROL_GROUP_BITS = 16


def payload_layout(lane_shape, lanes, user_width, extra=None):
    """A beat: ``data`` (``lanes`` lanes, lane 0 in the least significant bits), ``last``,
    ``user`` when ``user_width`` is non-zero, and the fields of ``extra`` (a dict)."""
    fields = {"data": data.ArrayLayout(lane_shape, lanes), "last": 1}
    if user_width:
        fields["user"] = user_width
    fields.update(extra or {})
    return data.StructLayout(fields)


def params_layout(spec):
    """The parameters that travel with each input beat, or ``None`` when all are constants:
    ``slope`` (per lane, where slopes are values: see
    :func:`~relu_hw.gateware.datapath.slope_operand`), ``max_value`` (an unsigned code on the
    output grid) and ``threshold`` (a code on the input grid, one bit wider) where they are
    runtime parameters."""
    fields = {}
    operand = slope_operand(spec)
    if operand is not None:
        fields["slope"] = data.ArrayLayout(operand[0], spec.lanes)
    fields.update(runtime_shapes(spec))
    return data.StructLayout(fields) if fields else None


def events_layout(spec):
    """The events of each output beat, per lane (one bit each of
    :data:`~relu_hw.gateware.datapath.EVENT_FLAGS`), when the block has control; else
    ``None``."""
    if spec.control == "none":
        return None
    return data.ArrayLayout(data.StructLayout({name: 1 for name in EVENT_FLAGS}), spec.lanes)


class ActivationPipeline(wiring.Component):
    """A ReLU-family activation over a stream of multi-lane beats.

    Lanes are computed in parallel; ``last`` and ``user`` travel with their beat unchanged.

    Parameters
    ----------
    spec : Spec

    Members
    -------
    i : In(stream.Signature(payload_layout(format_shape(input_format), lanes, user_width)))
        Lanes are ``signed(width)``, or ``unsigned(width)`` for an unsigned input. With
        :func:`params_layout`, also ``params``: the parameters each beat is computed with,
        which travel with it.
    o : Out(stream.Signature(payload_layout(format_shape(output_format), lanes, user_width)))
        Lanes are ``signed(out_width)``, or ``unsigned(out_width)`` for an unsigned output.
        With :func:`events_layout` (a block with control), also ``events``: what each beat's
        lanes counted.

    Timing
    ------
    Latency of ``spec.stages`` cycles, one beat per cycle. With ``ready="combinational"`` the
    input ``ready`` is a combinational function of the output ``ready`` and the stage valids.
    With ``ready="registered"`` a skid buffer after the last stage makes input ``ready`` a
    flip-flop (the buffer is empty), and output ``valid`` is one too; it adds no latency, and
    the block holds up to ``stages + 1`` beats. The stages advance only while the buffer is
    empty, so while it is full a bubble in the stages waits too.

    Control flags are reset. Data registers are reset too, unless their reset makes an output
    forced to a constant (ReLU's zero, a clip limit): such a constant is the data flip-flops'
    synchronous reset or masks in logic, as ``spec.zeroing`` says (by default logic with
    registered ready, reset with combinational).

    With ``ready="registered"`` the control flip-flops (``stage{j}_valid``, ``skid_full``) are
    kept in one copy per group: group 0 (plain names) carries ``last`` and ``user`` and drives
    the ports' ``ready`` and ``valid``, and the lanes follow in groups of about
    :data:`CONTROL_GROUP_BITS` data bits (``..._g{g}``, from ``g = 1``). The copies always
    agree, each drives only its own group's enables and multiplexers, and no logic sits between
    them and the data flip-flops' enables, so Fmax holds up as lanes grow.
    """

    def __init__(self, spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        self._spec = spec
        params, events = params_layout(spec), events_layout(spec)
        super().__init__({
            "i": In(stream.Signature(payload_layout(
                format_shape(spec.input_format), spec.lanes, spec.user_width,
                {"params": params} if params is not None else None))),
            "o": Out(stream.Signature(payload_layout(
                format_shape(spec.output_format), spec.lanes, spec.user_width,
                {"events": events} if events is not None else None))),
        })

    @property
    def spec(self):
        return self._spec

    @property
    def latency(self):
        return self._spec.latency

    def elaborate(self, platform):
        m = Module()
        spec = self._spec
        lanes = [LaneDatapath(spec, k) for k in range(spec.lanes)]
        registered = spec.ready == "registered"

        # With registered ready, the control flip-flops are copied once per group: group 0
        # holds the sideband (last, user) and drives the ports' flags, and the lanes follow in
        # groups of about CONTROL_GROUP_BITS data bits, so that no flag drives more than its
        # group's enables and multiplexers. Group 0's copies carry the plain names.
        per_group = max(1, CONTROL_GROUP_BITS // spec.width)
        groups = 1 + -(-spec.lanes // per_group) if registered else 1

        def group_of(name):
            # Lane values are named lane{k}_...
            if registered and name.startswith("lane"):
                return 1 + int(name[4:name.index("_")]) // per_group
            return 0

        def named(base, g):
            return base if g == 0 else f"{base}_g{g}"

        def flags(base, **kwargs):
            return [Signal(name=named(base, g), **kwargs) for g in range(groups)]

        # What each stage computes from the previous one's values, as {name: value}.
        # Stage 1 prepares (slope products, table reads); the last stage finishes (round,
        # clip, mux); stages in between delay. With one stage both happen before the one
        # register, except that a table's read needs stage 1's register after it (a
        # synchronous read): then the one stage finishes after its register.
        # Runtime parameters shared by the lanes travel with the beat until the last stage uses
        # them; a slope is used by the first.
        finish_late = spec.stages == 1 and any(lane.reads_table for lane in lanes)
        shared = [name for name in ("max_value", "threshold") if name in spec.runtime]
        variable_slopes = slope_operand(spec) is not None
        monitor = events_layout(spec) is not None

        def prepare(payload):
            out = {"last": payload.last}
            if spec.user_width:
                out["user"] = payload.user
            for name in shared:
                out[name] = payload.params[name]
            for k, lane in enumerate(lanes):
                slope = payload.params.slope[k] if variable_slopes else None
                for name, v in lane.prepare(payload.data[k], m, slope=slope).items():
                    out[f"lane{k}_{name}"] = v
            return out

        def finish(values):
            out = {name: values[name] for name in ("last", "user") if name in values}
            for k, lane in enumerate(lanes):
                prepared = {name[len(f"lane{k}_"):]: v for name, v in values.items()
                            if name.startswith(f"lane{k}_")}
                prepared.update({name: values[name] for name in shared})
                # spec.zeroing: the flip-flops' reset makes a zero for free where the enable
                # gates it (iCE40); where reset overrides the enable (ECP5) it costs a LUT from
                # the enable to every reset pin, which a mask in logic avoids.
                if not monitor:
                    out[f"lane{k}_y"] = lane.finish(prepared, by_reset=spec.zero_by_reset)
                    continue
                out[f"lane{k}_y"], flags = lane.finish(prepared, by_reset=spec.zero_by_reset,
                                                       events=True)
                for name, flag in flags.items():
                    out[f"lane{k}_{name}"] = flag
            return out

        valids = [flags(f"stage{j}_valid") for j in range(1, spec.stages + 1)]
        if registered:
            # A skid buffer after the last stage. The stages and the buffer load while the
            # buffer is empty, never on the output ready, so input ready is a flip-flop (not
            # skid_full); the buffer takes the last stage's beat when that beat is offered and
            # not taken, and offers it until it is. Every enable of the data path is a control
            # flip-flop, with no logic in between.
            skid_fulls = flags("skid_full")
            enables = [[~full for full in skid_fulls]] * spec.stages
            # Output valid in a flip-flop of its own, so that its LUT is not shared with (and
            # does not lengthen) a group's next-state logic.
            out_valid = Signal(name="out_valid")
            for g in range(groups):
                group_valids = [stage_valids[g] for stage_valids in valids]
                skid_full = skid_fulls[g]
                prev_valids = [self.i.valid, *group_valids[:-1]]
                next_valids = [Mux(skid_full, valid, prev)
                               for prev, valid in zip(prev_valids, group_valids)]
                next_skid_full = ~self.o.ready & (skid_full | group_valids[-1])
                if g == 0:
                    m.d.sync += out_valid.eq(next_skid_full | next_valids[-1])
                m.d.sync += [
                    skid_full.eq(next_skid_full),
                    *(valid.eq(v) for valid, v in zip(group_valids, next_valids)),
                ]
        else:
            enables = [flags(f"stage{j}_en") for j in range(1, spec.stages + 1)]
            # A stage advances when it is empty or its successor takes its beat.
            ready = self.o.ready
            for (en,), (valid,) in reversed(list(zip(enables, valids))):
                ready = ~valid | ready
                m.d.comb += en.eq(ready)
            prev = self.i.valid
            for (en,), (valid,) in zip(enables, valids):
                with m.If(en):
                    m.d.sync += valid.eq(prev)
                prev = valid
        m.d.comb += self.i.ready.eq(enables[0][0])

        # The data flip-flops take the block's reset too, unless their reset makes zeros
        # (spec.zeroing): it costs no logic, and nextpnr puts ECP5 flip-flops in one tile only
        # if they share a reset net, so the control flip-flops can then sit among their data.
        data_reset_less = spec.zero_by_reset
        values = prepare(self.i.payload)
        for stage in range(1, spec.stages + 1):
            if stage == spec.stages and not finish_late:
                values = finish(values)
            regs = {}
            for name, v in values.items():
                # A table's read data register has no reset, so that synthesis can take it
                # into the memory's read port: its value matters only while its stage is
                # valid.
                reg = Signal(v.shape(), name=f"stage{stage}_{name}",
                             reset_less=data_reset_less or name.endswith("_t"))
                with m.If(enables[stage - 1][group_of(name)]):
                    m.d.sync += reg.eq(v)
                regs[name] = reg
            values = regs
        if finish_late:
            values = finish(values)

        if registered:
            out_values = {}
            for name, reg in values.items():
                g = group_of(name)
                skid = Signal(reg.shape(), name=f"skid_{name}", reset_less=data_reset_less)
                with m.If(~skid_fulls[g]):
                    m.d.sync += skid.eq(reg)
                # Masks, not a multiplexer: Yosys would merge a multiplexer with the skid
                # register's hold multiplexer, the same function, and the skid flip-flops
                # would take their data through that LUT instead of using their clock enable.
                out_values[name] = choose(skid_fulls[g], skid, reg, reg.shape(), by_reset=False)
        else:
            out_valid, out_values = valids[-1][0], values

        m.d.comb += [
            self.o.valid.eq(out_valid),
            self.o.payload.last.eq(out_values["last"]),
        ]
        if spec.user_width:
            m.d.comb += self.o.payload.user.eq(out_values["user"])
        for k in range(spec.lanes):
            m.d.comb += self.o.payload.data[k].eq(out_values[f"lane{k}_y"])
            if monitor:
                for name in EVENT_FLAGS:
                    m.d.comb += self.o.payload.events[k][name].eq(out_values[f"lane{k}_{name}"])
        return m
