# SPDX-License-Identifier: Apache-2.0
from fractions import Fraction

import numpy as np
import pytest
from apytypes import APyFixed, OverflowMode, QuantizationMode

from relu_hw.golden import golden
from relu_hw.spec import ROUNDING_MODES, Spec

from .cases import all_codes, exhaustive_8bit_specs, spec_id
from .reference import reference


@pytest.mark.parametrize("spec", exhaustive_8bit_specs(), ids=spec_id)
def test_exhaustive_8bit_against_rational_reference(spec):
    codes = all_codes(spec)
    x = np.repeat(codes[:, None], spec.lanes, axis=1)
    got = golden(spec, x)
    for lane in range(spec.lanes):
        want = [reference(spec, int(c), lane) for c in codes]
        np.testing.assert_array_equal(got[:, lane], want, err_msg=f"lane {lane}")


# Hand-worked: SQ(4,4) input, 2 fractional output bits (units of 0.25), slope 1 so the negative
# side keeps its sign. 0.375 is 1.5 units and -0.375 is -1.5 units: every mode differs on one.
@pytest.mark.parametrize("rounding, pos, neg", [
    ("floor", 1, -2),
    ("ceil", 2, -1),
    ("toward_zero", 1, -1),
    ("away", 2, -2),
    ("half_up", 2, -1),
    ("half_down", 1, -2),
    ("half_toward_zero", 1, -1),
    ("half_away", 2, -2),
    ("half_even", 2, -2),
])
def test_rounding_modes_by_hand(rounding, pos, neg):
    spec = Spec(kind="leaky_relu", slope="1", width=8, frac=4, out_width=8, out_frac=2,
                rounding=rounding, lanes=2)
    assert golden(spec, [[6, -6]]).tolist() == [[pos, neg]]


def test_half_even_breaks_ties_both_ways():
    # 0.625 = 2.5 units -> 2; 0.875 = 3.5 units -> 4.
    spec = Spec(kind="relu", width=8, frac=4, out_width=8, out_frac=2, rounding="half_even",
                lanes=2)
    assert golden(spec, [[10, 14]]).tolist() == [[2, 4]]


@pytest.mark.parametrize("overflow, want", [
    ("saturate", [127, -128]), ("saturate_symmetric", [127, -127]), ("wrap", [-56, 56]),
    ("saturate_zero", [0, 0]),
])
def test_overflow_by_hand(overflow, want):
    # 100 and -100 in SQ(8,0) become 200 and -200 halves in SQ(7,1): out of range both ways.
    # Wrapped: 200 - 256 = -56 and -200 + 256 = 56.
    spec = Spec(kind="leaky_relu", slope="1", width=8, frac=0, out_width=8, out_frac=1,
                overflow=overflow, lanes=2)
    assert golden(spec, [[100, -100]]).tolist() == [want]


def test_relu6_clips():
    spec = Spec(kind="relu", width=8, frac=4, max_value="6", lanes=3)
    assert golden(spec, [[127, 96, 95]]).tolist() == [[96, 96, 95]]


def test_vitis_slope_exact():
    # Vitis AI's fixed slope 26/256 is one option among all: exact, built from shifts and adds.
    spec = Spec(kind="leaky_relu", slope="26/256", width=8, frac=0, out_frac=0, lanes=1,
                rounding="half_even")
    assert spec.lane_slopes[0].error == 0
    # -100 * 26/256 = -10.15625 -> -10
    assert golden(spec, [[-100]]).tolist() == [[-10]]


@pytest.mark.parametrize("kwargs", [
    dict(kind="leaky_relu", slope="0.01", width=16, frac=8),
    dict(kind="leaky_relu", slope="-123.456", width=32, frac=16, out_width=32, out_frac=30,
         rounding="half_even", overflow="wrap"),
    dict(kind="prelu", slopes=("1e-3", "7.25"), lanes=2, width=24, frac=20, out_width=12,
         out_frac=2, rounding="half_away", overflow="saturate_symmetric"),
    dict(kind="thresholded_relu", threshold="0.7", width=32, frac=31, out_width=16,
         out_frac=15, rounding="half_down"),
    dict(kind="relu", width=32, frac=0, out_width=32, out_frac=32, max_value="0.5",
         overflow="wrap"),
])
@pytest.mark.parametrize("rounding", ["floor", "half_toward_zero", "half_even"])
def test_wide_formats_random_and_edges(kwargs, rounding):
    kwargs = dict(kwargs, rounding=kwargs.get("rounding", rounding))
    spec = Spec(lanes=kwargs.pop("lanes", 1), **kwargs)
    fmt = spec.input_format
    rng = np.random.default_rng(1)
    codes = np.concatenate([
        rng.integers(fmt.min_code, fmt.max_code, 3000, endpoint=True),
        [fmt.min_code, fmt.min_code + 1, -1, 0, 1, fmt.max_code - 1, fmt.max_code],
    ])
    x = np.repeat(codes[:, None], spec.lanes, axis=1)
    got = golden(spec, x)
    for lane in range(spec.lanes):
        want = [reference(spec, int(c), lane) for c in codes]
        np.testing.assert_array_equal(got[:, lane], want)


def test_shape_and_range_errors():
    spec = Spec(width=8, frac=0, lanes=2)
    with pytest.raises(ValueError, match=r"Input must have 2 lanes in its last axis"):
        golden(spec, np.zeros((4, 3), dtype=int))
    with pytest.raises(ValueError, match=r"Input codes must lie in \[-128, 127\]"):
        golden(spec, [[128, 0]])


def test_keeps_leading_axes():
    spec = Spec(width=8, frac=0, lanes=2)
    assert golden(spec, np.full((3, 5, 2), -3)).shape == (3, 5, 2)


def test_rounding_table_complete():
    assert set(ROUNDING_MODES) == {"floor", "ceil", "toward_zero", "away", "half_up",
                                   "half_down", "half_toward_zero", "half_away", "half_even"}


@pytest.mark.parametrize("overflow, want", [
    # UQ(4, 4) output: codes 0 to 255. 12 and -3 in SQ(8, 0) are 192 and -48 sixteenths; 20
    # is 320, past the top.
    ("saturate", [192, 0, 255]), ("saturate_symmetric", [192, 0, 255]),
    ("wrap", [192, 256 - 48, 320 - 256]), ("saturate_zero", [192, 0, 0]),
])
def test_unsigned_output_by_hand(overflow, want):
    spec = Spec(kind="leaky_relu", slope="1", width=8, frac=0, out_width=8, out_frac=4,
                out_signed=False, overflow=overflow, lanes=3)
    assert golden(spec, [[12, -3, 20]]).tolist() == [want]


def test_unsigned_input_takes_codes_above_the_signed_range():
    spec = Spec(kind="relu", width=8, frac=4, signed=False, out_width=8, out_frac=2,
                out_signed=False, rounding="half_even", lanes=3)
    # 255 sixteenths = 63.75 quarters -> 64 quarters; 250 -> 62.5 -> 62 (ties to even).
    assert golden(spec, [[255, 250, 0]]).tolist() == [[64, 62, 0]]
    with pytest.raises(ValueError, match=r"Input codes must lie in \[0, 255\]"):
        golden(spec, [[-1, 0, 0]])


# An external oracle: apytypes implements ap_fixed's quantization and overflow modes. The
# activation itself is computed exactly in its arithmetic, then cast once to the output format.
APY_ROUNDING = {"floor": "TRN", "ceil": "TO_POS", "toward_zero": "TRN_ZERO", "away": "TO_AWAY",
                "half_up": "RND", "half_down": "RND_MIN_INF", "half_toward_zero": "RND_ZERO",
                "half_away": "RND_INF", "half_even": "RND_CONV"}
# apytypes has no symmetric saturation and no saturation to zero.
APY_OVERFLOW = {"wrap": "WRAP", "saturate": "SAT"}


def _apy_output(spec, code, lane):
    """The output code by apytypes. apytypes' numbers are signed, so an unsigned format of
    ``w`` bits is read through a signed one of ``w + 1``: the input exactly; the output cast
    with apytypes' rounding and its wrap or saturation at the top, where the two formats
    agree, leaving only the bottom of an unsigned output (below zero: the low ``w`` bits when
    wrapping, zero when saturating) to this function."""
    fin, fout = spec.input_format, spec.output_format
    in_bits = fin.width + (not fin.signed)
    x = APyFixed(code & ((1 << in_bits) - 1), bits=in_bits, frac_bits=fin.frac)
    zero = APyFixed(0, bits=2, frac_bits=0)
    if spec.kind == "relu":
        v = x if code >= 0 else zero
    elif spec.kind == "thresholded_relu":
        v = x if Fraction(code, 1 << fin.frac) > Fraction(spec.threshold) else zero
    else:
        q = spec.lane_slopes[lane]
        bits = max(abs(q.code).bit_length() + 1, 2)
        slope = APyFixed(q.code & ((1 << bits) - 1), bits=bits, frac_bits=q.frac)
        v = x if code >= 0 else x * slope
    if spec.max_value_q is not None:
        m = spec.max_value_q
        clip = APyFixed(m.code, bits=m.code.bit_length() + 1, frac_bits=m.frac)
        v = clip if v > clip else v
    y = v.cast(int_bits=fout.width - fout.frac + (not fout.signed), frac_bits=fout.frac,
               quantization=getattr(QuantizationMode, APY_ROUNDING[spec.rounding]),
               overflow=getattr(OverflowMode, APY_OVERFLOW[spec.overflow]))
    bits = int(y.to_bits())
    if fout.signed or spec.overflow == "wrap":
        return fout.codes(bits)
    return 0 if bits >> fout.width else bits       # the sign bit of the w + 1 bits


@pytest.mark.parametrize("spec", [s for s in exhaustive_8bit_specs() if s.overflow in
                                  APY_OVERFLOW], ids=spec_id)
def test_exhaustive_8bit_against_apytypes(spec):
    codes = all_codes(spec)
    got = golden(spec, np.repeat(codes[:, None], spec.lanes, axis=1))
    for lane in range(spec.lanes if spec.kind == "prelu" else 1):
        want = [_apy_output(spec, int(c), lane) for c in codes]
        np.testing.assert_array_equal(got[:, lane], want, err_msg=f"lane {lane}")


def test_apytypes_oracle_knows_every_rounding_mode():
    assert set(APY_ROUNDING) == set(ROUNDING_MODES)


@pytest.mark.parametrize("x", [[[0.5, 1.0]], np.array([[1, 2]], dtype=float),
                               [[True, False]], [["1", "2"]]])
def test_non_integer_input_is_a_type_error(x):
    with pytest.raises(TypeError, match="Input codes must be integers, not an array of"):
        golden(Spec(width=8, frac=0, lanes=2), x)
