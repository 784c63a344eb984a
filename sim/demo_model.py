# SPDX-License-Identifier: Apache-2.0
"""Write ``net.onnx``, the small quantized network of the README's "From a model": a QDQ chain
over an NCHW tensor of 4 channels, int8 with scale 2^-4,

    LeakyRelu(alpha=0.1) -> PRelu(4 slopes of shape (4, 1, 1)) -> LeakyRelu(alpha=0.125)
    -> Clip(0, 6) to uint8 -> Relu to a QuantizeLinear of scale 0.05

so that ``relu-hw import`` has an exact slope of 27 bits, a per-channel PReLU, a dyadic slope,
a ReLU6 with an unsigned output, and a node it must refuse (a scale that is not a power of
two). Usage: ``python sim/demo_model.py [FOLDER]`` (default ``build/demo``)."""

import sys
from pathlib import Path

import numpy as np
from onnx import TensorProto, checker, helper, numpy_helper


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def network():
    nodes, inits = [], [const("s16", 2.0 ** -4), const("z8", 0, np.int8),
                        const("zu8", 0, np.uint8), const("s005", 0.05),
                        const("clip_min", 0.0), const("clip_max", 6.0),
                        const("slopes", np.array([0.25, -0.5, 0.125, 0.75]).reshape(4, 1, 1))]

    def qdq(x, scale, zero, name):
        nodes.append(helper.make_node("QuantizeLinear", [x, scale, zero], [f"{name}_q"],
                                      name=f"{name}_quant"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q", scale, zero],
                                      [f"{name}_dq"], name=f"{name}_dequant"))
        return f"{name}_dq"

    x = qdq("x", "s16", "z8", "in")
    nodes.append(helper.make_node("LeakyRelu", [x], ["a1"], name="lrelu", alpha=0.1))
    x = qdq("a1", "s16", "z8", "a1")
    nodes.append(helper.make_node("PRelu", [x, "slopes"], ["a2"], name="prelu"))
    x = qdq("a2", "s16", "z8", "a2")
    nodes.append(helper.make_node("LeakyRelu", [x], ["a3"], name="lrelu_eighth", alpha=0.125))
    x = qdq("a3", "s16", "z8", "a3")
    nodes.append(helper.make_node("Clip", [x, "clip_min", "clip_max"], ["a4"], name="relu6"))
    x = qdq("a4", "s16", "zu8", "a4")
    nodes.append(helper.make_node("Relu", [x], ["a5"], name="relu_out"))
    x = qdq("a5", "s005", "zu8", "a5")
    shape = ["N", 4, 1, 1]
    graph = helper.make_graph(nodes, "demo", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)], [
        helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    checker.check_model(model)
    return model


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "build/demo")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "net.onnx").write_bytes(network().SerializeToString())
    print(f"wrote {folder / 'net.onnx'}")
