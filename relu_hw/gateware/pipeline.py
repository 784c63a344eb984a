# SPDX-License-Identifier: Apache-2.0
"""The stream-to-stream activation pipeline."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..spec import Spec
from .datapath import LaneDatapath

__all__ = ["payload_layout", "ActivationPipeline", "CONTROL_GROUP_BITS"]

#: With registered ready, one copy of the control flip-flops per this many data bits (at least
#: one lane): bounds the fanout of each valid flag, which otherwise limits Fmax of wide blocks.
CONTROL_GROUP_BITS = 16


def payload_layout(lane_shape, lanes, user_width):
    """A beat: ``data`` (``lanes`` lanes, lane 0 in the least significant bits), ``last``, and
    ``user`` when ``user_width`` is non-zero."""
    fields = {"data": data.ArrayLayout(lane_shape, lanes), "last": 1}
    if user_width:
        fields["user"] = user_width
    return data.StructLayout(fields)


class ActivationPipeline(wiring.Component):
    """A ReLU-family activation over a stream of multi-lane beats.

    Lanes are computed in parallel; ``last`` and ``user`` travel with their beat unchanged.

    Parameters
    ----------
    spec : Spec

    Members
    -------
    i : In(stream.Signature(payload_layout(signed(width), lanes, user_width)))
    o : Out(stream.Signature(payload_layout(signed(out_width), lanes, user_width)))

    Timing
    ------
    Latency of ``spec.stages`` cycles, one beat per cycle. With ``ready="combinational"`` the
    input ``ready`` is a combinational function of the output ``ready`` and the stage valids.
    With ``ready="registered"`` a skid buffer after the last stage makes input ``ready`` a
    function of flip-flops only (the stage valids and the skid's); it adds no latency, and the
    block holds up to ``stages + 1`` beats.

    Only the valid flags (pipeline and skid buffer) are reset; data registers are not, so that
    a zeroing multiplexer can use the flip-flops' synchronous reset instead of logic.

    With ``ready="registered"`` the valid flags are kept in one copy per group of lanes of about
    :data:`CONTROL_GROUP_BITS` data bits (``skid_valid``, ``stage{j}_valid`` for group 0,
    ``skid_valid_g{g}``, ``stage{j}_valid_g{g}`` for the others); the copies always agree, and
    each drives only its own lanes' multiplexers and enables, so Fmax holds up as lanes grow.
    """

    def __init__(self, spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        self._spec = spec
        super().__init__({
            "i": In(stream.Signature(
                payload_layout(signed(spec.width), spec.lanes, spec.user_width))),
            "o": Out(stream.Signature(
                payload_layout(signed(spec.out_width), spec.lanes, spec.user_width))),
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

        # With registered ready, the control flip-flops (stage and skid valid flags) are copied
        # once per group of lanes holding about CONTROL_GROUP_BITS data bits, so that no flag
        # drives more than its group's enables and multiplexers: a single flag driving every
        # lane held Fmax at 64 lanes to two thirds of one lane's. The copies are always equal;
        # group 0's carry the plain names (skid_valid, stage{j}_valid, stage{j}_en).
        per_group = max(1, CONTROL_GROUP_BITS // spec.width) if registered else spec.lanes
        groups = -(-spec.lanes // per_group)

        def group_of(name):
            # Lane values are named lane{k}_...; sideband fields belong to group 0.
            if name.startswith("lane"):
                return int(name[4:name.index("_")]) // per_group
            return 0

        def named(base, g):
            return base if g == 0 else f"{base}_g{g}"

        # What each stage computes from the previous one's values, as {name: value}.
        # Stage 1 prepares (slope products); the last stage finishes (round, clip, mux);
        # stages in between delay. With one stage both happen before the one register.
        def prepare(payload):
            out = {"last": payload.last}
            if spec.user_width:
                out["user"] = payload.user
            for k, lane in enumerate(lanes):
                for name, v in lane.prepare(payload.data[k]).items():
                    out[f"lane{k}_{name}"] = v
            return out

        def finish(values):
            out = {name: values[name] for name in ("last", "user") if name in values}
            for k, lane in enumerate(lanes):
                prepared = {name[len(f"lane{k}_"):]: v for name, v in values.items()
                            if name.startswith(f"lane{k}_")}
                out[f"lane{k}_y"] = lane.finish(prepared)
            return out

        values = prepare(self.i.payload)
        valid = [self.i.valid] * groups
        enables, valids = [], []
        for stage in range(1, spec.stages + 1):
            if stage == spec.stages:
                values = finish(values)
            ens = [Signal(name=named(f"stage{stage}_en", g)) for g in range(groups)]
            stage_valids = [Signal(name=named(f"stage{stage}_valid", g)) for g in range(groups)]
            enables.append(ens)
            valids.append(stage_valids)
            regs = {}
            for name, v in values.items():
                reg = Signal(v.shape(), name=f"stage{stage}_{name}", reset_less=True)
                with m.If(ens[group_of(name)]):
                    m.d.sync += reg.eq(v)
                regs[name] = reg
            for en, stage_valid, prev in zip(ens, stage_valids, valid):
                with m.If(en):
                    m.d.sync += stage_valid.eq(prev)
            values, valid = regs, stage_valids

        if registered:
            # A skid buffer after the last stage: the pipeline advances on its emptiness (a
            # flip-flop), never on the output ready. It takes the last stage's beat when that
            # beat is offered and not taken, and offers it until it is. Sitting after the
            # registers, it adds no logic in front of the datapath and no latency.
            # Its valid flag is kept twice per group: `skid_valid` stalls the pipeline (its
            # loads sit by the stage registers), `skid_full` selects the output and loads the
            # skid (by the output), so that neither copy has to reach both places.
            skid_valids = [Signal(name=named("skid_valid", g)) for g in range(groups)]
            skid_fulls = [Signal(name=named("skid_full", g)) for g in range(groups)]
            downstream_ready = [~skid_valid for skid_valid in skid_valids]
            out_valid = skid_fulls[0] | valid[0]
            out_values = {}
            for name, reg in values.items():
                g = group_of(name)
                skid = Signal(reg.shape(), name=f"skid_{name}", reset_less=True)
                with m.If(~skid_fulls[g]):
                    m.d.sync += skid.eq(reg)
                out_values[name] = Mux(skid_fulls[g], skid, reg)
            for flags in (skid_valids, skid_fulls):
                for flag, last_valid in zip(flags, valid):
                    m.d.sync += flag.eq(~self.o.ready & (flag | last_valid))
        else:
            downstream_ready = [self.o.ready]
            out_valid, out_values = valid[0], values

        # A stage advances when it is empty or its successor takes its beat.
        for ens, stage_valids in zip(reversed(enables), reversed(valids)):
            for en, stage_valid, ready in zip(ens, stage_valids, downstream_ready):
                m.d.comb += en.eq(~stage_valid | ready)
            downstream_ready = ens
        m.d.comb += self.i.ready.eq(enables[0][0])

        m.d.comb += [
            self.o.valid.eq(out_valid),
            self.o.payload.last.eq(out_values["last"]),
        ]
        if spec.user_width:
            m.d.comb += self.o.payload.user.eq(out_values["user"])
        for k in range(spec.lanes):
            m.d.comb += self.o.payload.data[k].eq(out_values[f"lane{k}_y"])
        return m
