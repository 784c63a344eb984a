# SPDX-License-Identifier: Apache-2.0
import math
import re
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from relu_hw.spec import (FRAMEWORKS, OVERFLOW_MODES, ROUNDING_MODES, SELU_ALPHA, SELU_SCALE,
                          Spec, csd_digits, parse_constant, parse_format, parse_type,
                          quantize_slope, rounding_mode)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(width=1), ValueError, "Input width must be an integer from 2 to 32, not 1"),
    (dict(width=33), ValueError, "Input width must be an integer from 2 to 32, not 33"),
    (dict(width="16"), TypeError, "Input width must be an integer, not '16'"),
    (dict(width=True), TypeError, "Input width must be an integer, not True"),
    (dict(width=8, frac=9), ValueError,
     "Input fractional bits (frac) must be an integer from 0 to 8, not 9"),
    (dict(frac=-1), ValueError, "from 0 to 16, not -1"),
    (dict(out_width=1), ValueError, "Output width must be an integer from 2 to 32, not 1"),
    (dict(out_width=8, out_frac=9), ValueError,
     "Output fractional bits (out_frac) must be an integer from 0 to 8, not 9"),
    (dict(lanes=0), ValueError, "Lane count must be an integer from 1 to 256, not 0"),
    (dict(stages=0), ValueError, "Stage count must be an integer from 1 to 16, not 0"),
    (dict(user_width=-1), ValueError, "User width must be an integer from 0 to 64, not -1"),
    (dict(kind="gelu"), ValueError, "Activation kind must be one of 'relu', 'leaky_relu', "
                                    "'prelu', 'thresholded_relu', 'elu', 'selu', 'celu', not "
                                    "'gelu'"),
    (dict(kind="elu", width=17), ValueError, "Kind 'elu' takes input widths up to 16 bits (its "
                                             "table has an entry per negative input code at "
                                             "most), not 17"),
    (dict(kind="celu", alpha="0"), ValueError, "alpha must be from 2^-16 to below 2^16, not "
                                               "'0'"),
    (dict(kind="elu", alpha="65536"), ValueError, "alpha must be from 2^-16 to below 2^16"),
    (dict(kind="elu", alpha="e"), ValueError, "alpha must be a finite decimal or fraction"),
    (dict(kind="selu", alpha="1"), ValueError, "alpha applies to kind elu or celu only, not "
                                               "'selu'"),
    (dict(kind="relu", alpha="1"), ValueError, "alpha applies to kind elu or celu only"),
    (dict(kind="selu", control="axi-lite"), ValueError,
     "Kind 'selu' takes control 'none' only: its table holds the build-time constants"),
    (dict(kind="elu", out_signed=False, overflow="wrap"), ValueError,
     "Overflow 'wrap' into an unsigned output would turn every negative value of 'elu' into a "
     "large positive code; use a signed output, or a saturate mode"),
    (dict(rounding="nearest"), ValueError, "Rounding mode must be one of 'floor',"),
    (dict(overflow="clip"), ValueError, "Overflow mode must be one of 'wrap', 'saturate', "
                                        "'saturate_symmetric', 'saturate_zero', or a "
                                        "framework's name for one such as 'AP_SAT' or "
                                        "'ap_fixed:AP_SAT_ZERO', not 'clip'"),
    (dict(ready="maybe"), ValueError, "Ready mode must be one of 'registered', "
                                      "'combinational', not 'maybe'"),
    (dict(zeroing="lsr"), ValueError, "Zeroing must be one of 'auto', 'reset', 'logic', "
                                      "not 'lsr'"),
    (dict(kind="leaky_relu", slope_impl="lut"), ValueError,
     "Slope implementation must be one of 'auto', 'shift', 'shift_add', 'multiplier'"),
    (dict(kind="leaky_relu", slope="nan"), ValueError,
     "Slope must be a finite decimal or fraction such as '0.01' or '41/4096', not 'nan'"),
    (dict(kind="leaky_relu", slope="inf"), ValueError, "Slope must be a finite decimal"),
    (dict(kind="leaky_relu", slope=float("nan")), ValueError, "not nan"),
    (dict(kind="leaky_relu", slope="1/0"), ValueError, "Slope must be a finite decimal"),
    (dict(kind="leaky_relu", slope=[1]), TypeError,
     "Slope must be a decimal or fraction string, not [1]"),
    (dict(kind="leaky_relu", slope="70000"), ValueError,
     "Slope must be greater than -65536 and less than 65536, not '70000'"),
    (dict(kind="leaky_relu", slope="1e-12"), ValueError,
     "cannot be quantized within 2^-12 relative with at most 32 fractional bits"),
    (dict(kind="leaky_relu", slope="0.01", slope_impl="shift"), ValueError,
     "slope_impl 'shift' needs a power-of-two slope; slope 0.01 quantizes to "
     "1311/131072, which is not one"),
    (dict(kind="leaky_relu", slope_frac=33), ValueError,
     "Slope fractional bits (slope_frac) must be an integer from 0 to 32, not 33"),
    (dict(kind="prelu", lanes=3), ValueError, "Kind 'prelu' needs slopes, one per lane (3)"),
    (dict(kind="prelu", lanes=3, slopes=("0.1", "0.2")), ValueError,
     "Slope count must equal the lane count (3), not 2"),
    (dict(kind="prelu", lanes=1, slopes=("x",)), ValueError,
     "Slope of lane 0 must be a finite decimal"),
    (dict(kind="thresholded_relu", threshold="-inf"), ValueError,
     "Threshold must be a finite decimal"),
    (dict(max_value="-1"), ValueError, "max_value must be at least 0, not '-1'"),
    (dict(max_value="nan"), ValueError, "max_value must be a finite decimal"),
    (dict(kind="relu", slope="0.1"), ValueError,
     "slope applies to kind leaky_relu only, not 'relu'"),
    (dict(kind="leaky_relu", slopes=("0.1",)), ValueError,
     "slopes applies to kind prelu only, not 'leaky_relu'"),
    (dict(kind="relu", threshold="1"), ValueError,
     "threshold applies to kind thresholded_relu only, not 'relu'"),
    (dict(kind="relu", slope_frac=4), ValueError,
     "slope_frac and slope_impl apply to kind leaky_relu or prelu only, not 'relu'"),
    (dict(name="1bad"), ValueError, "Name must be a Verilog identifier"),
    (dict(name="a b"), ValueError, "Name must be a Verilog identifier"),
])
def test_invalid_parameters(kwargs, error, message):
    with pytest.raises(error) as info:
        Spec(**kwargs)
    assert message in str(info.value)


def test_defaults():
    s = Spec()
    assert (s.kind, s.width, s.frac, s.out_width, s.out_frac) == ("relu", 16, 8, 16, 8)
    assert (s.rounding, s.overflow, s.ready, s.stages, s.lanes) == \
        ("floor", "saturate", "registered", 1, 4)
    assert s.name == "relu_axis"
    assert Spec(kind="leaky_relu").lane_slopes[0].requested == Fraction(1, 100)
    assert Spec(kind="thresholded_relu").threshold_q.requested == 1


def test_output_format_defaults_follow_input_independently():
    s = Spec(width=12, frac=4, out_width=8)
    assert (s.out_width, s.out_frac) == (8, 4)


@pytest.mark.parametrize("text, value", [
    ("0.01", Fraction(1, 100)), ("41/4096", Fraction(41, 4096)), ("-1.5", Fraction(-3, 2)),
    ("1e-2", Fraction(1, 100)), (" 6 ", Fraction(6)), (3, Fraction(3)), (0.1, Fraction(1, 10)),
])
def test_parse_constant_is_exact(text, value):
    assert parse_constant(text, "c") == value


@pytest.mark.parametrize("slope", ["0.01", "0.1", "0.3", "-0.2", "1.7", "123.456", "26/256",
                                   "1e-5", "-3", "0.999"])
def test_auto_slope_within_tolerance(slope):
    q = Spec(kind="leaky_relu", slope=slope).lane_slopes[0]
    assert abs(q.value - Fraction(slope)) <= Fraction(1, 4096) * abs(Fraction(slope))
    # Canonical: fewest bits for that value.
    assert q.frac == 0 or q.code % 2 == 1


@pytest.mark.parametrize("slope, code, frac", [
    ("0.125", 1, 3), ("-0.5", -1, 1), ("2", 2, 0), ("0", 0, 0), ("26/256", 13, 7),
    ("0.01", 1311, 17),
])
def test_slope_quantization_values(slope, code, frac):
    q = Spec(kind="leaky_relu", slope=slope).lane_slopes[0]
    assert (q.code, q.frac) == (code, frac)


def test_explicit_slope_frac_allows_coarser_slope():
    q = Spec(kind="leaky_relu", slope="0.01", slope_frac=8).lane_slopes[0]
    assert q.value == Fraction(3, 256)  # round(2.56) = 3
    assert q.relative_error > Fraction(1, 4096)
    # Ties go to even: 0.375 at 2 fractional bits is 1.5 quarters -> 2 quarters.
    assert quantize_slope(Fraction(3, 8), 2, "s").value == Fraction(1, 2)


@pytest.mark.parametrize("slope, impl", [
    ("0.125", "shift"), ("-4", "shift"), ("0", "zero"), ("0.75", "shift_add"),
    ("0.01", "multiplier"), ("26/256", "shift_add"),
])
def test_auto_slope_impl(slope, impl):
    s = Spec(kind="leaky_relu", slope=slope)
    assert s.slope_impl_of(s.lane_slopes[0]) == impl


@pytest.mark.parametrize("n", list(range(-70, 71)) + [5243, 65535, 2 ** 20 + 1])
def test_csd_digits(n):
    digits = csd_digits(abs(n))
    assert sum(sign << shift for sign, shift in digits) == abs(n)
    shifts = [shift for _, shift in digits]
    assert all(b - a >= 2 for a, b in zip(shifts, shifts[1:]))  # no adjacent non-zeros


def test_threshold_quantized_on_input_grid_and_clamped():
    s = Spec(kind="thresholded_relu", width=8, frac=4, threshold="0.3")
    assert s.threshold_q.code == 4  # floor(0.3 * 16)
    assert Spec(kind="thresholded_relu", width=8, frac=4, threshold="100").threshold_q.code \
        == 127
    assert Spec(kind="thresholded_relu", width=8, frac=4, threshold="-100").threshold_q.code \
        == -129


def test_max_value_on_output_grid_rounded_down():
    s = Spec(width=8, frac=4, out_width=8, out_frac=2, max_value="6.3")
    assert s.max_value_q.code == 25 and s.max_value_q.value == Fraction(25, 4)


def test_output_range():
    assert Spec(out_width=8, overflow="saturate").output_range == (-128, 127)
    assert Spec(out_width=8, overflow="saturate_symmetric").output_range == (-127, 127)


def test_mode_tables_cover_ap_fixed():
    assert ROUNDING_MODES["half_even"].ap_fixed == "AP_RND_CONV"
    assert set(OVERFLOW_MODES) == {"wrap", "saturate", "saturate_symmetric", "saturate_zero"}
    assert {r.ap_fixed for r in ROUNDING_MODES.values()} - {None} == {
        "AP_TRN", "AP_TRN_ZERO", "AP_RND", "AP_RND_MIN_INF", "AP_RND_ZERO", "AP_RND_INF",
        "AP_RND_CONV"}


def test_numpy_scalars_are_taken_like_python_ones():
    import numpy as np
    spec = Spec(kind=np.str_("leaky_relu"), width=np.int64(12), frac=np.int32(4),
                lanes=np.uint8(3), slope=np.float64(0.25), max_value=np.int16(6))
    assert spec == Spec(kind="leaky_relu", width=12, frac=4, lanes=3, slope=0.25,
                        max_value=6)
    assert type(spec.width) is int and type(spec.lanes) is int
    with pytest.raises(TypeError, match="Lane count must be an integer, not np.True_|not True"):
        Spec(lanes=np.bool_(True))
    with pytest.raises(TypeError, match=r"Input width must be an integer, not np.float64\(8.0\)"):
        Spec(width=np.float64(8.0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="module"), "Name must not be a Verilog or SystemVerilog keyword"),
    (dict(name="always_ff"), "Name must not be a Verilog or SystemVerilog keyword"),
    (dict(kind="leaky_relu", slope="65535.9"), "quantizes to 65536, which reaches 65536"),
    (dict(kind="leaky_relu", slope="-0.001", slope_frac=8),
     "Slope -0.001 quantizes to 0 with slope_frac 8, which loses the slope; slope_frac 9 is "
     "the fewest that keeps it"),
    (dict(kind="prelu", lanes=2, slopes=("0.5", "1e-20"), slope_frac=32),
     "no slope_frac up to 32 keeps it"),
    (dict(max_value="0.01", out_frac=4), "max_value 0.01 floors to 0 on the output grid"),
    (dict(kind="leaky_relu", slope="1e-1001"), "Slope must have an exponent from -1000"),
    (dict(kind="leaky_relu", slope="1E+5000"), "Slope must have an exponent from -1000"),
    (dict(kind="relu", rounding=3), "Rounding mode must be a string, one of"),
])
def test_refuses_what_a_user_would_not_mean(kwargs, message):
    with pytest.raises((TypeError, ValueError)) as info:
        Spec(**kwargs)
    assert message in str(info.value)


def test_zero_slope_given_as_zero_is_fine():
    assert Spec(kind="leaky_relu", slope="0").lane_slopes[0].code == 0


def test_unsigned_format():
    fmt = parse_format("UQ(4, 4)")
    assert (fmt.width, fmt.frac, fmt.signed, fmt.min_code, fmt.max_code) == (8, 4, False, 0, 255)
    assert str(fmt) == "UQ(4, 4)" and fmt.codes(0x1FF) == 255
    assert fmt.codes(np.array([255, 256, 128])).tolist() == [255, 0, 128]
    assert str(parse_format("sq(1,7)")) == "SQ(1, 7)"
    spec = Spec(kind="relu", width=8, frac=4, out_signed=False)
    assert spec.output_range == (0, 255) and spec.options()["out_signed"] is False
    assert Spec(out_signed=False, overflow="saturate_symmetric").output_range == (0, 65535)
    with pytest.raises(TypeError, match="Output signedness .out_signed. must be True or False"):
        Spec(out_signed="no")


@pytest.mark.parametrize("name, mode", [
    ("half_up", "half_up"), ("AP_RND", "half_up"), ("ap_fixed:ap_rnd_conv", "half_even"),
    ("qonnx:HALF_UP", "half_away"), ("qonnx:half_down", "half_toward_zero"),
    ("qonnx:UP", "away"), ("qonnx:DOWN", "toward_zero"), ("CEIL", "ceil"),
    ("ROUND", "half_even"), ("HALF_EVEN", "half_even"), ("brevitas:ROUND_TO_ZERO", "toward_zero"),
    ("onnx:QuantizeLinear", "half_even"),
])
def test_framework_rounding_names(name, mode):
    assert rounding_mode(name) == mode
    assert Spec(rounding=name).rounding == mode


@pytest.mark.parametrize("name", ["HALF_UP", "HALF_DOWN", "Half_Up"])
def test_framework_names_that_clash_need_their_prefix(name):
    with pytest.raises(ValueError, match="means different things in different tools"):
        rounding_mode(name)


def test_every_framework_name_is_unique_within_its_framework():
    seen = {}
    for mode, rule in ROUNDING_MODES.items():
        for name in rule.names + ((f"ap_fixed:{rule.ap_fixed}",) if rule.ap_fixed else ()):
            assert name.partition(":")[0] in FRAMEWORKS
            assert seen.setdefault(name.upper(), mode) == mode
            assert rounding_mode(name) == mode


@pytest.mark.parametrize("text, want", [
    ("ap_fixed<16,6,AP_RND_CONV,AP_SAT>", ((16, 10, True), "half_even", "saturate")),
    ("ap_ufixed<8, 3>", ((8, 5, False), None, None)),
    ("fixed<8,4,RND_ZERO,SAT_SYM,0>", ((8, 4, True), "half_toward_zero", "saturate_symmetric")),
    ("ap_uint<8>", ((8, 0, False), None, None)),
])
def test_parse_type(text, want):
    fmt, rounding, overflow = parse_type(text)
    assert ((fmt.width, fmt.frac, fmt.signed), rounding, overflow) == want


@pytest.mark.parametrize("text, message", [
    ("ap_fixed<8,4,AP_RND,AP_SAT,2>", "asks for 2 saturation bits"),
    ("ap_fixed<8,4,AP_ROUND>", "has quantization mode 'AP_ROUND'"),
    ("ap_fixed<8>", "must have two to five parameters"),
    ("ap_fixed<40,4>", "is 40 bits wide; widths are 2 to 32"),
])
def test_parse_type_errors(text, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_type(text)


def test_readme_mode_table_matches_the_rounding_table():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0].startswith("`") and cells[0].strip("`") in ROUNDING_MODES:
            rows[cells[0].strip("`")] = cells
    assert set(rows) == set(ROUNDING_MODES)
    for mode, (_, description, ap_fixed, qonnx, brevitas, onnx) in rows.items():
        rule = ROUNDING_MODES[mode]
        assert description == rule.description
        assert ap_fixed.strip("`") == (rule.ap_fixed or "")
        for framework, cell in (("qonnx", qonnx), ("brevitas", brevitas), ("onnx", onnx)):
            named = {n.partition(":")[2] for n in rule.names if n.startswith(framework + ":")}
            assert {c.strip(" `") for c in cell.split(",") if c.strip()} == named, (mode,
                                                                                   framework)


def test_table_kind_constants():
    elu = Spec(kind="elu", alpha="0.3")
    assert elu.exponential == (Fraction(3, 10), 1) and elu.scale_q is None
    assert elu.constants() == {"alpha": "3/10"}
    celu = Spec(kind="celu", alpha="3/4")
    assert celu.exponential == (Fraction(3, 4), Fraction(3, 4))
    assert Spec(kind="elu").alpha_value == 1
    selu = Spec(kind="selu", width=8, frac=4, out_frac=2)
    assert selu.exponential == (Fraction(SELU_SCALE) * Fraction(SELU_ALPHA), 1)
    # Wrapping into an unsigned output is refused only where negative values exist.
    Spec(kind="elu", signed=False, out_signed=False, overflow="wrap")


def test_selu_scale_is_exact_on_every_code():
    # The quantized scale puts every s * x in the same open half step as the exact scale * x,
    # checked here on every positive code, with integers.
    for fmt_args, out_frac in (((16, 8), 8), ((16, 8), 10), ((8, 4), 2), ((12, 0), 6)):
        spec = Spec(kind="selu", width=fmt_args[0], frac=fmt_args[1], out_width=16,
                    out_frac=out_frac)
        q = spec.scale_q
        exact = Fraction(SELU_SCALE)
        step = Fraction(2) ** (out_frac - spec.frac + 1)
        for x in range(1, spec.input_format.max_code + 1):
            a, b = exact * x * step, q.value * x * step
            assert math.floor(a) == math.floor(b) and b.denominator != 1, (spec, x)
