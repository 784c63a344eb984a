# SPDX-License-Identifier: Apache-2.0
"""The block against its ONNX model (relu_hw.compare, ``relu-hw compare``): the float node and
the quantized reference in onnxruntime, QONNX's Quant, the golden model and the hardware on
Verilator, on models built here with onnx.helper."""

import json
from fractions import Fraction

import numpy as np
import pytest
from onnx import TensorProto

from relu_hw.cli import main
from relu_hw.compare import compare, input_codes, qonnx_quant
from relu_hw.onnx import read
from relu_hw.spec import FixedFormat

from .onnx_models import activation, const, qdq_model, qonnx_model, save

RELU6 = qdq_model(activation("Clip", inputs=("x_dq", "lo", "hi")),
                  extra=[const("lo", 0.0), const("hi", 6.0)], type_out=TensorProto.UINT8)
PRELU = qdq_model(activation("PRelu", inputs=("x_dq", "slope")),
                  extra=[const("slope", np.array([0.25, -0.5, 0.125, 0.75]).reshape(4, 1, 1))],
                  shape=("N", 4, 1, 1))


def _compare(model, **kwargs):
    (act,) = read(model, lanes=kwargs.pop("lanes", None))
    return compare(act.spec, model, "act", **kwargs)


@pytest.mark.parametrize("model", [
    RELU6, qdq_model(activation("LeakyRelu", alpha=0.125)), PRELU,
], ids=["relu6", "leaky-0.125", "prelu-per-channel"])
def test_qdq_models_are_bit_exact(model):
    result = _compare(model)
    d = result.as_dict()
    assert result.passed and result.bit_exact and result.golden_mismatches == 0
    # Every int8 code, and for the PReLU every channel.
    assert d["samples"] == 256 and d["compared"] == 256 * result.channels
    assert result.channels == (4 if model is PRELU else 1)
    assert d["hardware_vs_float"]["max_steps"] <= 0.5


def test_leaky_relu_0_1_differs_on_seven_float32_ties():
    # The float graph rounds x * 0.1f to float32, which lands exactly on a tie of the
    # output grid for 7 of the 256 codes; ties to even then go the other way.
    result = _compare(qdq_model(activation("LeakyRelu", alpha=0.1)))
    assert result.passed and not result.bit_exact
    assert result.counts == {"float32 tie": 7, "float32 grid point": 0, "unexplained": 0}
    diffs = result.differences
    assert [d["input_code"] for d in diffs] == [-125, -105, -85, -65, -45, -25, -5]
    first = diffs[0]
    # -125/16 * 13421773/2^27 exactly, and what float32 made of it: -25/32, a tie between
    # -12/16 and -13/16.
    assert Fraction(first["exact"]) == Fraction(-125, 16) * Fraction(13421773, 1 << 27)
    assert Fraction(first["float32"]) == Fraction(-25, 32)
    assert (first["reference"], first["hardware"]) == (-12, -13)
    md = result.markdown()
    assert "| of which float32 tie | 7 |" in md and "| verdict | PASS |" in md


def test_qonnx_floor_differs_on_float32_grid_points():
    result = _compare(qonnx_model(activation("LeakyRelu", alpha=0.1), rounding_out="FLOOR"))
    assert result.style == "qonnx" and result.passed
    assert result.counts["float32 grid point"] > 0 and result.counts["unexplained"] == 0


def test_qonnx_half_up_is_ties_away_from_zero():
    # Slope 1/2 into a coarser grid (2^-3) makes ties on both sides of zero: QONNX's HALF_UP
    # sends -1/16 to -1/8, where our half_up would send it to 0. Read as half_away, the
    # hardware equals QONNX's own Quant on every code.
    model = qonnx_model(activation("LeakyRelu", alpha=0.5), scale_out=2.0 ** -3,
                        rounding_out="HALF_UP")
    result = _compare(model)
    assert result.spec.rounding == "half_away"
    assert result.passed and result.bit_exact
    assert qonnx_quant(np.array([-1 / 16, 1 / 16]), 1 / 8, 8, True, False,
                       "HALF_UP").tolist() == [-1, 1]


def test_a_wrong_configuration_fails():
    # The model's slope is 0.125; the configuration says 0.25.
    model = qdq_model(activation("LeakyRelu", alpha=0.125))
    (act,) = read(model)
    spec = act.spec.__class__(**dict(act.spec.options(), slope="0.25"))
    result = compare(spec, model, "act", samples=40)
    assert not result.passed and result.counts["unexplained"] > 0
    assert result.golden_mismatches == 0


# QONNX's specification of Quant's rounding modes, its own table (zero point 0, scale 1).
QONNX_TABLE = {
    "ROUND":     [6, 2, 2, 1, 1, -1, -1, -2, -2, -6],
    "CEIL":      [6, 3, 2, 2, 1, -1, -1, -1, -2, -5],
    "FLOOR":     [5, 2, 1, 1, 1, -1, -2, -2, -3, -6],
    "UP":        [6, 3, 2, 2, 1, -1, -2, -2, -3, -6],
    "DOWN":      [5, 2, 1, 1, 1, -1, -1, -1, -2, -5],
    "HALF_UP":   [6, 3, 2, 1, 1, -1, -1, -2, -3, -6],
    "HALF_DOWN": [5, 2, 2, 1, 1, -1, -1, -2, -2, -5],
}


@pytest.mark.parametrize("mode", QONNX_TABLE)
def test_qonnx_quant_follows_its_specification(mode):
    x = np.array([5.5, 2.5, 1.6, 1.1, 1.0, -1.0, -1.1, -1.6, -2.5, -5.5], dtype=np.float32)
    assert qonnx_quant(x, 1.0, 8, True, False, mode).tolist() == QONNX_TABLE[mode]
    # Clamped to the integer range, narrow or not.
    assert qonnx_quant(np.array([300.0, -300.0]), 1.0, 8, True, True, mode).tolist() == \
        [127, -127]
    assert qonnx_quant(np.array([300.0, -3.0]), 1.0, 8, False, False, mode).tolist() == \
        [255, 0]


def test_input_codes():
    fmt = FixedFormat(8, 4)
    assert input_codes(fmt).tolist() == list(range(-128, 128))
    assert input_codes(fmt, samples=256).tolist() == list(range(-128, 128))
    some = input_codes(fmt, samples=20, seed=3)
    assert {-128, 0, 127} <= set(some.tolist()) and len(some) <= 23
    assert input_codes(fmt, samples=20, seed=3).tolist() == some.tolist()


def test_compare_command(tmp_path, capsys):
    # The model (and so the Verilog) of the tests above: a compiled model is reused.
    path = save(qdq_model(activation("LeakyRelu", alpha=0.1)), tmp_path, "m")
    assert main(["import", str(path), "-o", str(tmp_path / "cfg")]) == 0
    capsys.readouterr()
    np.save(tmp_path / "x.npy", np.array([-5, -6, 3, 127], dtype=np.int8))
    argv = ["compare", "--config", str(tmp_path / "cfg" / "act.toml"), "--onnx", str(path),
            "--node", "act", "-o", str(tmp_path / "out")]
    assert main([*argv, "--inputs", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "| -5 | -5/16 | 0 | -67108865/2147483648" in out and "float32 tie" in out
    report = json.loads((tmp_path / "out" / "act.compare.json").read_text())
    assert report["samples"] == 4 and report["passed"]
    assert report["hardware_vs_quantized_reference"]["by_class"]["float32 tie"] == 1
    assert (tmp_path / "out" / "act.compare.png").read_bytes()[:4] == b"\x89PNG"
    # A configuration that is not the model's fails with exit status 1.
    assert main([*argv, "--slope", "0.25", "--samples", "10"]) == 1
    assert "| verdict | FAIL |" in capsys.readouterr().out
    assert main([*argv, "--width", "16"]) == 2
    assert "input format SQ(8, 8) is not the model's, SQ(4, 4)" in capsys.readouterr().err
