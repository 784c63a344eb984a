# SPDX-License-Identifier: Apache-2.0
"""A scalar reference model in plain rational arithmetic, for checking the golden model.

It is deliberately the most literal reading of the spec: Fractions, Python's own rounding
functions, and the *requested* threshold (the spec claims quantizing it changes nothing).

For the table kinds (ELU, SELU, CELU) the exponential is evaluated with mpmath at 200 decimal
digits, on its own (no enclosures, no bisection), on every negative code; each value is checked
to lie farther than 10^-150 from any point where rounding decides, so 200 digits settle it.
The value then stands in for the exact one by a rational strictly inside the same half step.
"""

import math
from fractions import Fraction
from functools import lru_cache

from mpmath.ctx_mp import MPContext

from relu_hw.spec import SELU_SCALE, TABLE_KINDS

_MP = MPContext()
_MP.dps = 200
_MARGIN = Fraction(1, 10 ** 150)


@lru_cache(maxsize=None)
def _half_floors(a, divisor, frac, min_code, out_frac):
    """``floor(2t)`` for every negative code from ``min_code``, ``t`` the exact value of
    ``a * (exp(x / divisor) - 1)`` in output steps."""
    mp = _MP
    twice = 2 * a * 2 ** out_frac
    # 2t = s - twice with s = twice * exp(x/d) > 0; twice = n + r, n integer, 0 <= r < 1, so
    # floor(2t) = floor(s - r) - n, and s - r keeps s's digits even where s is tiny.
    n = math.floor(twice)
    r = twice - n
    out = []
    for code in range(min_code, 0):
        arg = Fraction(code, 2 ** frac) / divisor
        s = mp.mpf(twice.numerator) / twice.denominator * mp.exp(
            mp.mpf(arg.numerator) / arg.denominator)
        w = s - mp.mpf(r.numerator) / r.denominator
        f = int(mp.floor(w))
        if r == 0 and f == 0:
            assert s > 0
        else:
            # Far from both integers around it, relative to the value's size.
            near = min(abs(w - f), abs(w - f - 1))
            assert near > _MARGIN * max(1, abs(w)), (code, near)
        out.append(f - n)
    return tuple(out)


def _table_kind_value(spec, code):
    x = Fraction(code, 2 ** spec.frac)
    if code >= 0:
        return Fraction(SELU_SCALE) * x if spec.kind == "selu" else x
    a, d = spec.exponential
    m = _half_floors(a, d, spec.frac, spec.input_format.min_code, spec.out_frac)[
        code - spec.input_format.min_code]
    # Any value strictly inside (m/2, (m+1)/2) output steps rounds as the exact one does.
    return Fraction(2 * m + 1, 4) / 2 ** spec.out_frac


def _round(y, mode):
    half = Fraction(1, 2)
    sign = 1 if y >= 0 else -1
    return {
        "floor": lambda: math.floor(y),
        "ceil": lambda: math.ceil(y),
        "toward_zero": lambda: math.trunc(y),
        "away": lambda: sign * math.ceil(abs(y)),
        "half_up": lambda: math.floor(y + half),
        "half_down": lambda: math.ceil(y - half),
        "half_toward_zero": lambda: sign * math.ceil(abs(y) - half),
        "half_away": lambda: sign * math.floor(abs(y) + half),
        "half_even": lambda: round(y),  # Fraction rounds ties to even
    }[mode]()


def reference(spec, code, lane=0):
    """Output code for input ``code`` in ``lane``."""
    x = Fraction(code, 2 ** spec.frac)
    if spec.kind in TABLE_KINDS:
        v = _table_kind_value(spec, code)
    elif spec.kind == "relu":
        v = max(x, 0)
    elif spec.kind == "thresholded_relu":
        t = Fraction(spec.threshold if spec.threshold is not None else "1")
        v = x if x > t else Fraction(0)
    else:
        v = x if x >= 0 else spec.lane_slopes[lane].value * x
    if spec.max_value_q is not None:
        v = min(v, spec.max_value_q.value)
    r = _round(v * 2 ** spec.out_frac, spec.rounding)
    if spec.out_signed:
        hi = 2 ** (spec.out_width - 1) - 1
        lo = -hi if spec.overflow == "saturate_symmetric" else -hi - 1
    else:
        lo, hi = 0, 2 ** spec.out_width - 1
    if spec.overflow == "wrap":
        return (r - lo) % 2 ** spec.out_width + lo
    if spec.overflow == "saturate_zero":
        return r if lo <= r <= hi else 0
    return max(lo, min(hi, r))
