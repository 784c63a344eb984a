# SPDX-License-Identifier: Apache-2.0
"""A scalar reference model in plain rational arithmetic, for checking the golden model.

It is deliberately the most literal reading of the spec: Fractions, Python's own rounding
functions, and the *requested* threshold (the spec claims quantizing it changes nothing).
"""

import math
from fractions import Fraction


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
    if spec.kind == "relu":
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
