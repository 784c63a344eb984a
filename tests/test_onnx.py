# SPDX-License-Identifier: Apache-2.0
"""Reading a quantized ONNX model's activations (relu_hw.onnx) and ``relu-hw import``, on
models built here with onnx.helper."""

from fractions import Fraction

import numpy as np
import pytest
from onnx import TensorProto

from relu_hw.cli import main
from relu_hw.onnx import find, read

from .onnx_models import activation, const, qdq_model, qonnx_model, save


def _one(model, **kwargs):
    (act,) = read(model, **kwargs)
    return act


def test_qdq_leaky_relu_takes_the_float32_slope_exactly():
    act = _one(qdq_model(activation("LeakyRelu", alpha=0.1)))
    spec = act.spec
    assert act.reason is None and spec.kind == "leaky_relu"
    # 0.1f is 13421773 / 2^27: the hardware multiplies by the graph's own constant.
    assert spec.lane_slopes[0].value == Fraction(13421773, 1 << 27) == Fraction(float(
        np.float32(0.1)))
    assert spec.slope_frac == 27 and spec.lane_slopes[0].error == 0
    assert (str(spec.input_format), str(spec.output_format)) == ("SQ(4, 4)", "SQ(4, 4)")
    # QuantizeLinear rounds ties to even, then saturates.
    assert (spec.rounding, spec.overflow) == ("half_even", "saturate")


def test_slope_frac_overrides_the_exact_slope():
    spec = _one(qdq_model(activation("LeakyRelu", alpha=0.1)), slope_frac=8).spec
    assert spec.slope_frac == 8 and spec.lane_slopes[0].value == Fraction(13, 128)


def test_omitted_attributes_take_the_schema_defaults():
    leaky = _one(qdq_model(activation("LeakyRelu"))).spec
    assert leaky.lane_slopes[0].value == Fraction(float(np.float32(0.01)))
    thresholded = _one(qdq_model(activation("ThresholdedRelu"))).spec
    assert thresholded.kind == "thresholded_relu" and Fraction(thresholded.threshold) == 1


def test_clip_0_6_is_relu6_with_an_unsigned_output():
    model = qdq_model(activation("Clip", inputs=("x_dq", "lo", "hi")),
                      extra=[const("lo", 0.0), const("hi", 6.0)], type_out=TensorProto.UINT8)
    spec = _one(model).spec
    assert (spec.kind, spec.max_value_q.value) == ("relu", 6)
    assert str(spec.output_format) == "UQ(4, 4)" and spec.output_range == (0, 255)


def test_clip_max_off_the_output_grid_is_rounded_onto_it_like_the_model():
    # min(v, m) rounded is min(round(v), round(m)): 0.3 is 4.8 sixteenths -> 5 (ties to even
    # does not matter here).
    model = qdq_model(activation("Clip", inputs=("x_dq", "lo", "hi")),
                      extra=[const("lo", 0.0), const("hi", 0.3)])
    assert _one(model).spec.max_value_q.value == Fraction(5, 16)


def test_per_channel_prelu_one_slope_per_lane():
    slopes = np.array([0.25, -0.5, 0.125]).reshape(3, 1, 1)
    model = qdq_model(activation("PRelu", inputs=("x_dq", "slope")),
                      extra=[const("slope", slopes)], shape=("N", 3, 1, 1))
    act = _one(model)
    assert act.spec.lanes == 3 and act.channels == 3 and act.channel_axis == -3
    assert [q.value for q in act.spec.lane_slopes] == [Fraction(1, 4), Fraction(-1, 2),
                                                      Fraction(1, 8)]
    # A multiple of the channel count repeats the slopes; anything else is refused.
    assert [str(q.value) for q in _one(model, lanes=6).spec.lane_slopes] == \
        ["1/4", "-1/2", "1/8"] * 2
    refused = _one(model, lanes=4)
    assert refused.spec is None and "do not fill 4 lanes evenly" in refused.reason


@pytest.mark.parametrize("mode, rounding", [
    ("ROUND", "half_even"), ("HALF_EVEN", "half_even"), ("CEIL", "ceil"), ("FLOOR", "floor"),
    ("UP", "away"), ("DOWN", "toward_zero"), ("HALF_UP", "half_away"),
    ("HALF_DOWN", "half_toward_zero"), ("half_up", "half_away"),
])
def test_qonnx_rounding_modes(mode, rounding):
    spec = _one(qonnx_model(activation("Relu"), rounding_out=mode, signed_out=0)).spec
    assert spec.rounding == rounding and spec.overflow == "saturate"
    assert str(spec.output_format) == "UQ(4, 4)"


def test_qonnx_narrow_signed_output_is_symmetric_saturation():
    spec = _one(qonnx_model(activation("Relu"), narrow_out=1, op="IntQuant")).spec
    assert spec.overflow == "saturate_symmetric" and spec.output_range == (-127, 127)


@pytest.mark.parametrize("model, reason", [
    (qdq_model(activation("Relu"), scale_in=0.1),
     "its input quantizer dq_in's scale 0.10000000149011612 is not a power of two"),
    (qonnx_model(activation("Relu"), scale_out=3 * 2.0 ** -5),
     "its output quantizer quant_out's scale 0.09375 is not a power of two"),
    (qdq_model(activation("Relu"), zero_out=5),
     "its output quantizer q_out has a non-zero zero point 5"),
    (qdq_model(activation("Clip", inputs=("x_dq", "lo", "hi")),
               extra=[const("lo", -1.0), const("hi", 6.0)]),
     "it is a Clip with min -1.0, not 0, so not a ReLU"),
    (qdq_model(activation("Relu"), scale_in=2.0 ** -9),
     "its input quantizer dq_in has scale 2^-9: 9 fractional bits of 8, where the block takes "
     "0 to 8"),
    (qonnx_model(activation("Relu"), narrow_out=1, signed_out=0),
     "its output quantizer quant_out is narrow and unsigned: codes 0 to 2^8 - 2, which no "
     "overflow mode here gives"),
    (qdq_model(activation("LeakyRelu", alpha=1e-12)),
     "its alpha 9.999999960041972e-13 needs 61 fractional bits to be exact, more than 32"),
])
def test_refused_with_the_reason(model, reason):
    act = _one(model)
    assert act.spec is None and act.reason.startswith(reason), act.reason


def test_find_names_the_activations():
    model = qdq_model(activation("Relu", name="r1"))
    assert find(model, "r1")[0].spec.kind == "relu"
    with pytest.raises(ValueError, match="Node 'r2' is not an activation of the model; its "
                                         "activations are 'r1'"):
        find(model, "r2")


def test_import_command_writes_configs_that_generate_takes(tmp_path, capsys):
    path = save(qdq_model(activation("LeakyRelu", name="lrelu/0", alpha=0.1)), tmp_path, "m")
    assert main(["import", str(path), "-o", str(tmp_path / "cfg"), "--lanes", "2"]) == 0
    out = capsys.readouterr().out
    assert "| lrelu/0 | LeakyRelu | leaky_relu | SQ(4, 4) -> SQ(4, 4), half_even" in out
    toml = tmp_path / "cfg" / "lrelu_0.toml"
    assert str(toml) in out
    text = toml.read_text()
    assert 'slope = "13421773/134217728"' in text and "slope-frac = 27" in text
    assert "# slope-frac 27: the model's float32 slopes, exactly." in text
    assert main(["generate", "--config", str(toml), "-o", str(tmp_path / "v")]) == 0
    assert (tmp_path / "v" / "lrelu_0.v").is_file()


def test_import_command_lists_refused_nodes_and_exits_1(tmp_path, capsys):
    path = save(qdq_model(activation("Relu", name="r"), scale_in=0.1), tmp_path, "m")
    assert main(["import", str(path), "-o", str(tmp_path / "cfg")]) == 1
    out = capsys.readouterr().out
    assert "| r | Relu | relu | - | - | not mapped: its input quantizer dq_in's scale" in out
    assert "1 of 1 activation node(s) not mapped" in out
    assert not (tmp_path / "cfg").exists()


def test_import_command_usage_errors(tmp_path, capsys):
    assert main(["import", str(tmp_path / "none.onnx"), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Cannot read the ONNX model" in err and "no such file" in err
    assert main(["import", str(tmp_path / "none.onnx"), "--lanes", "0"]) == 2
    assert "--lanes must be an integer from 1 to 256, not 0" in capsys.readouterr().err
