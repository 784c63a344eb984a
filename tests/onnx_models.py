# SPDX-License-Identifier: Apache-2.0
"""Small quantized ONNX models built with ``onnx.helper``, for the import and compare tests:
a QDQ graph (QuantizeLinear, DequantizeLinear around the activation) or a QONNX one (Quant
nodes of domain ``qonnx.custom_op.general``)."""

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 21
_NP = {TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8, TensorProto.INT16: np.int16,
       TensorProto.UINT16: np.uint16}


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def activation(op, name="act", inputs=("x_dq",), output="y", **attrs):
    return helper.make_node(op, list(inputs), [output], name=name, **attrs)


def qdq_model(act, extra=(), scale_in=2.0 ** -4, scale_out=2.0 ** -4, zero_in=0, zero_out=0,
              type_in=TensorProto.INT8, type_out=TensorProto.INT8, shape=("N",)):
    """X -> QuantizeLinear -> DequantizeLinear -> ``act`` -> QuantizeLinear -> DequantizeLinear
    -> Y, with ``extra`` initializers (slopes, clip bounds)."""
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "s_in", "z_in"], ["x_q"], name="q_in"),
        helper.make_node("DequantizeLinear", ["x_q", "s_in", "z_in"], ["x_dq"], name="dq_in"),
        act,
        helper.make_node("QuantizeLinear", ["y", "s_out", "z_out"], ["y_q"], name="q_out"),
        helper.make_node("DequantizeLinear", ["y_q", "s_out", "z_out"], ["out"],
                         name="dq_out"),
    ]
    inits = [const("s_in", scale_in), const("s_out", scale_out),
             const("z_in", zero_in, _NP[type_in]), const("z_out", zero_out, _NP[type_out]),
             *extra]
    graph = helper.make_graph(
        nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(shape))], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def qonnx_model(act, extra=(), scale_in=2.0 ** -4, scale_out=2.0 ** -4, bits_in=8, bits_out=8,
                signed_in=1, signed_out=1, narrow_out=0, rounding_out="ROUND", op="Quant",
                shape=("N",)):
    """X -> Quant -> ``act`` -> Quant -> Y, QONNX's way."""
    nodes = [
        helper.make_node(op, ["x", "s_in", "zero", "b_in"], ["x_dq"], name="quant_in",
                         domain="qonnx.custom_op.general", signed=signed_in, narrow=0,
                         rounding_mode="ROUND"),
        act,
        helper.make_node(op, ["y", "s_out", "zero", "b_out"], ["out"], name="quant_out",
                         domain="qonnx.custom_op.general", signed=signed_out,
                         narrow=narrow_out, rounding_mode=rounding_out),
    ]
    inits = [const("s_in", scale_in), const("s_out", scale_out), const("zero", 0.0),
             const("b_in", float(bits_in)), const("b_out", float(bits_out)), *extra]
    graph = helper.make_graph(
        nodes, "qonnx", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(shape))], inits)
    return helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", OPSET), helper.make_opsetid("qonnx.custom_op.general", 1)])


def save(model, folder, name):
    path = folder / f"{name}.onnx"
    path.write_bytes(model.SerializeToString())
    return path
