# SPDX-License-Identifier: Apache-2.0
"""The stream-to-stream activation pipeline."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..spec import Spec
from .datapath import LaneDatapath

__all__ = ["payload_layout", "ActivationPipeline"]


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
    With ``ready="registered"`` a skid buffer in front of the first stage makes input ``ready``
    a flip-flop output; it adds no latency.

    Only the valid flags (pipeline and skid buffer) are reset; data registers are not, so that
    a zeroing multiplexer can use the flip-flops' synchronous reset instead of logic.
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

        # Stage 0 is the input of the first register stage: the stream input, or the skid
        # buffer in front of it.
        if spec.ready == "registered":
            skid_valid = Signal(name="skid_valid")
            skid = Signal(self.i.payload.shape(), name="skid_payload", reset_less=True)
            in_valid = skid_valid | self.i.valid
            in_payload = Signal(self.i.payload.shape(), name="stage0_payload")
            m.d.comb += in_payload.eq(self.i.payload)
            with m.If(skid_valid):
                m.d.comb += in_payload.eq(skid)
            m.d.comb += self.i.ready.eq(~skid_valid)
            with m.If(~skid_valid):
                m.d.sync += skid.eq(self.i.payload)
        else:
            in_valid = self.i.valid
            in_payload = self.i.payload

        def sideband(payload):
            fields = {"last": payload.last}
            if spec.user_width:
                fields["user"] = payload.user
            return fields

        # What each stage computes from the previous one's values, as {name: value}.
        # Stage 1 prepares (slope products); the last stage finishes (round, clip, mux);
        # stages in between delay. With one stage both happen before the one register.
        def prepare(payload):
            out = sideband(payload)
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

        values = prepare(in_payload)
        valid = in_valid
        enables, valids = [], []
        for stage in range(1, spec.stages + 1):
            if stage == spec.stages:
                values = finish(values)
            en = Signal(name=f"stage{stage}_en")
            stage_valid = Signal(name=f"stage{stage}_valid")
            enables.append(en)
            valids.append(stage_valid)
            regs = {}
            for name, v in values.items():
                reg = Signal(v.shape(), name=f"stage{stage}_{name}", reset_less=True)
                with m.If(en):
                    m.d.sync += reg.eq(v)
                regs[name] = reg
            with m.If(en):
                m.d.sync += stage_valid.eq(valid)
            values, valid = regs, stage_valid

        # A stage advances when it is empty or its successor takes its beat.
        downstream_ready = self.o.ready
        for en, stage_valid in zip(reversed(enables), reversed(valids)):
            m.d.comb += en.eq(~stage_valid | downstream_ready)
            downstream_ready = en
        first_en = enables[0]

        if spec.ready == "registered":
            # The skid buffer holds a beat exactly when one arrived while stage 1 was stalled,
            # and keeps it until stage 1 takes it.
            m.d.sync += skid_valid.eq(~first_en & (skid_valid | self.i.valid))
        else:
            m.d.comb += self.i.ready.eq(first_en)

        m.d.comb += [
            self.o.valid.eq(valid),
            self.o.payload.last.eq(values["last"]),
        ]
        if spec.user_width:
            m.d.comb += self.o.payload.user.eq(values["user"])
        for k in range(spec.lanes):
            m.d.comb += self.o.payload.data[k].eq(values[f"lane{k}_y"])
        return m

