# SPDX-License-Identifier: Apache-2.0
"""relu-hw's ActivationPipeline inside an Amaranth design.

``BiasedActivation`` is what a user's accelerator might hold: a stream of 4-lane beats of
16-bit accumulations gets a bias added by the user's own ``BiasAdd``, then a Leaky ReLU from
relu-hw; ``wiring.connect`` joins the streams and checks that their signatures match.
``python examples/amaranth_design.py`` prints its Verilog; ``tests/test_examples.py``
simulates it against the golden model.
"""

from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from relu_hw import Spec
from relu_hw.gateware import ActivationPipeline


class BiasAdd(wiring.Component):
    """Adds ``bias`` to every lane of a stream of ``layout`` beats, wrapping, behind one
    register (latency 1, one beat per cycle)."""

    def __init__(self, layout, bias):
        self._bias = bias
        super().__init__({"i": In(stream.Signature(layout)),
                          "o": Out(stream.Signature(layout))})

    def elaborate(self, platform):
        m = Module()
        # The register loads when it is empty or its beat is being taken.
        m.d.comb += self.i.ready.eq(~self.o.valid | self.o.ready)
        with m.If(self.i.ready):
            m.d.sync += self.o.valid.eq(self.i.valid)
            m.d.sync += self.o.payload.eq(self.i.payload)
            for k in range(len(self.i.payload.data)):
                m.d.sync += self.o.payload.data[k].eq(self.i.payload.data[k] + self._bias)
        return m


class BiasedActivation(wiring.Component):
    """``BiasAdd`` then relu-hw's Leaky ReLU, with the pipeline's own stream ports."""

    def __init__(self, spec, bias):
        self._spec, self._bias = spec, bias
        # The ports are the activation's: whatever the spec makes of them.
        members = ActivationPipeline(spec).signature.members
        super().__init__({"i": members["i"], "o": members["o"]})

    def elaborate(self, platform):
        m = Module()
        m.submodules.act = act = ActivationPipeline(self._spec)
        m.submodules.bias = bias = BiasAdd(act.i.payload.shape(), self._bias)
        wiring.connect(m, wiring.flipped(self.i), bias.i)
        wiring.connect(m, bias.o, act.i)
        wiring.connect(m, act.o, wiring.flipped(self.o))
        return m


SPEC = Spec(kind="leaky_relu", slope="1/8", width=16, frac=8, lanes=4)

if __name__ == "__main__":
    print(verilog.convert(BiasedActivation(SPEC, bias=-96), name="biased_activation"))
