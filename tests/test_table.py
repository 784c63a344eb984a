# SPDX-License-Identifier: Apache-2.0
"""Correctly rounded tables, and the golden model of the table kinds, against a third
computation: mpmath at 200 digits on every code (tests/reference.py)."""

from fractions import Fraction

import numpy as np
import pytest

from relu_hw.golden import golden
from relu_hw.spec import ROUNDING_MODES, Spec
from relu_hw.table import half_floor, table

from .cases import all_codes, spec_id, table_kind_8bit_specs
from .reference import _round as reference_round
from .reference import reference

def _specs_wide():
    specs = [Spec(kind="elu", width=16, frac=8, rounding=r, lanes=1) for r in ROUNDING_MODES]
    specs += [Spec(kind="elu", width=12, frac=6, out_width=12, out_frac=8, rounding=r,
                   lanes=1) for r in ROUNDING_MODES]
    specs += [
        # Unsigned outputs: the negative side saturates to 0; an unsigned input has none.
        Spec(kind="elu", width=16, frac=8, out_signed=False, rounding="half_up", lanes=1),
        Spec(kind="elu", width=16, frac=8, signed=False, rounding="ceil", lanes=1),
        Spec(kind="celu", alpha="1.5", width=12, frac=6, out_width=10, out_frac=6,
             out_signed=False, overflow="saturate_zero", rounding="away", lanes=1),
        # -alpha out of range: wrapped and symmetrically saturated.
        Spec(kind="elu", alpha="3", width=16, frac=8, out_width=8, out_frac=6,
             overflow="wrap", rounding="half_even", lanes=1),
        Spec(kind="elu", alpha="3", width=16, frac=8, out_width=8, out_frac=6,
             overflow="saturate_symmetric", rounding="floor", lanes=1),
        Spec(kind="selu", width=16, frac=8, out_width=16, out_frac=10, max_value="6",
             rounding="half_even", lanes=1),
        Spec(kind="selu", width=16, frac=8, out_width=16, out_frac=10, rounding="floor",
             lanes=1),
        Spec(kind="celu", alpha="0.5", width=16, frac=12, out_width=16, out_frac=8,
             rounding="toward_zero", lanes=1),
    ]
    return specs


def check_against_reference(spec):
    codes = all_codes(spec)
    want = np.array([reference(spec, int(c)) for c in codes])
    np.testing.assert_array_equal(golden(spec, codes[:, None])[:, 0], want)
    t = table(spec)
    negative = want[codes < 0]
    if not spec.signed:
        assert t.entries == () and t.bound == 0
        return
    below = negative[:len(negative) - (-t.bound)] if t.bound < 0 else negative
    assert (below == t.constant).all()
    assert t.entries == tuple(negative[len(negative) + t.bound:])
    # The bound is the first code that differs from the constant, found by search here.
    differ = np.nonzero(negative != t.constant)[0]
    first = codes[differ[0]] if len(differ) else 0
    assert t.bound == first
    # The constant is the limit just above -a, not only what the lowest code gives.
    a, _ = spec.exponential
    assert t.constant == reference_of_value(spec, -a + Fraction(1, 10 ** 60))


def reference_of_value(spec, value):
    """What the reference's rounding and overflow make of a value of the exponential side."""
    r = reference_round(value * 2 ** spec.out_frac, spec.rounding)
    lo, hi = spec.output_range
    if spec.overflow == "wrap":
        return (r - lo) % 2 ** spec.out_width + lo
    if spec.overflow == "saturate_zero":
        return r if lo <= r <= hi else 0
    return max(lo, min(hi, r))


@pytest.mark.parametrize("spec", table_kind_8bit_specs(), ids=spec_id)
def test_8bit_against_reference(spec):
    check_against_reference(spec)


@pytest.mark.parametrize("spec", _specs_wide(), ids=spec_id)
def test_wide_against_reference(spec):
    check_against_reference(spec)


@pytest.mark.parametrize("rounding, entries", [("floor", 1419), ("half_even", 1597)])
def test_table_sizes_of_elu_16bit(rounding, entries):
    # e^x = 1/256 (floor: -255 is reached) at x = -5.545, and e^x = 1/512 (nearest: -255.5 is
    # passed) at x = -6.238; times 256 codes per unit.
    t = table(Spec(kind="elu", rounding=rounding))
    assert (len(t.entries), t.bound, t.constant) == (entries, -entries, -256)
    # Entries -255 to -1 (code -1 is -0.998 steps: -1 either way) are stored as 0 to 254,
    # in 8 bits where they would take 9.
    assert (t.offset, t.bits, t.lo, t.hi) == (-255, 8, -255, -1)
    assert t.words == tuple(e + 255 for e in t.entries)


def test_half_floor_by_hand():
    # 2 * 256 * (e^-1 - 1) = -323.64...; e^(-1/2) = 0.6065..., 2 * 10 * (0.6065 - 1) = -7.87
    assert half_floor(Fraction(256), Fraction(1), Fraction(-1)) == -324
    assert half_floor(Fraction(10), Fraction(2), Fraction(-1)) == -8
    # Tiny differences from -2a need more precision: 2 * (e^-100 - 1) lies just above -2.
    assert half_floor(Fraction(1), Fraction(1), Fraction(-100)) == -2


def test_table_of_other_kind_refused():
    with pytest.raises(ValueError, match="Kind 'relu' has no table; table kinds are elu"):
        table(Spec(kind="relu"))
