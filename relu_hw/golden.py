# SPDX-License-Identifier: Apache-2.0
"""The NumPy golden model: bit-exact, vectorized, and independent of the gateware.

It shares only the :class:`~relu_hw.spec.Spec` (formats and quantized constants) with the
hardware. Where the gateware rounds by adding a bias and shifting, this model takes the floor
quotient and remainder and decides ties explicitly; where the gateware clips after rounding, this
model clips the exact value before it.

For the table kinds (ELU, SELU, CELU) it computes every input code's output once per
configuration, independently of :mod:`relu_hw.table`: ``exp`` in Python's :mod:`decimal`
(correctly rounded), enclosed within one unit in the last place, exact integer arithmetic
around it, and a precision doubled until the enclosure settles the rounding. SELU's positive
side uses the exact scale, not the hardware's quantized one.
"""

from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction

import numpy as np

from .spec import ROUNDING_MODES, SELU_SCALE, TABLE_KINDS

__all__ = ["golden", "exact_values", "rounded"]

# Bits that int64 arithmetic may use before the model switches to Python integers.
_INT64_BITS = 62


def _checked_codes(spec, x):
    x = np.asarray(x)
    if x.dtype.kind not in "iu" and not (x.dtype == object and all(
            isinstance(v, int) and not isinstance(v, bool) for v in x.flat)):
        raise TypeError(f"Input codes must be integers, not an array of {x.dtype}")
    if x.shape[-1:] != (spec.lanes,):
        raise ValueError(f"Input must have {spec.lanes} lanes in its last axis, "
                         f"not shape {x.shape}")
    fmt_in = spec.input_format
    if x.size and (x.min() < fmt_in.min_code or x.max() > fmt_in.max_code):
        raise ValueError(f"Input codes must lie in [{fmt_in.min_code}, {fmt_in.max_code}]")
    return x


def exact_values(spec, x):
    """The activation of input codes ``x`` (shape ``(..., lanes)``), exactly.

    Returns ``(a, e)``: integers ``a`` (same shape as ``x``) and an exponent ``e`` such that the
    activation of each element is ``a / 2**e``. The clip ``max_value`` is applied.
    """
    if spec.kind in TABLE_KINDS:
        raise ValueError(f"Kind {spec.kind!r} has irrational values, with no exact a / 2**e")
    if spec.channels != spec.lanes:
        raise ValueError(f"With {spec.channels} channels on {spec.lanes} lanes a lane's slope "
                         f"depends on the beat's place in its frame: use "
                         f"relu_hw.frames.FrameModel")
    x = _checked_codes(spec, x)
    fmt_in = spec.input_format

    slopes = spec.lane_slopes
    slope_frac = max((q.frac for q in slopes), default=0) if slopes else 0
    e = max(fmt_in.frac + slope_frac, spec.out_frac)
    # Numbers stay below 2^bits in magnitude; wider than int64 allows falls back to objects.
    bits = spec.width + (e - fmt_in.frac) + 1
    if slopes:
        bits += max(abs(q.code) for q in slopes).bit_length()
    if spec.max_value_q is not None:
        bits = max(bits, spec.max_value_q.code.bit_length() + e - spec.out_frac + 1)
    dtype = np.int64 if bits <= _INT64_BITS else object
    x = x.astype(dtype, copy=False)

    up = e - fmt_in.frac
    scale_up = (lambda v: v) if up == 0 else (lambda v: v * (1 << up))
    if spec.kind == "relu":
        a = scale_up(np.maximum(x, 0))
    elif spec.kind == "thresholded_relu":
        t = spec.threshold_q.value
        # x / 2^frac > t  <=>  x * den > num * 2^frac (den > 0), exact on integers.
        taken = x * t.denominator > t.numerator * (1 << fmt_in.frac)
        a = scale_up(np.where(taken, x, 0))
    else:
        # Per-lane slopes brought to the common exponent slope_frac.
        n = np.array([q.code << (slope_frac - q.frac) for q in slopes], dtype=dtype)
        # slope * x / 2^frac has exponent frac + slope_frac; e may be larger still.
        scale_neg = 1 << (e - fmt_in.frac - slope_frac)
        a = np.where(x >= 0, scale_up(x), x * n * scale_neg)

    if spec.max_value_q is not None:
        m = spec.max_value_q
        a = np.minimum(a, m.code * (1 << (e - m.frac)))
    return a, e


def _round(a, k, mode):
    """``a / 2**k`` rounded to integers by ``mode``: the floor quotient and remainder, then
    the rule of :data:`~relu_hw.spec.ROUNDING_MODES` on the remainder."""
    if k == 0:
        return a
    d = 1 << k
    q = a // d
    r = a - q * d            # 0 <= r < d
    rule = ROUNDING_MODES[mode]
    # Where the rule sends a value it does not settle by distance.
    tie_up = {"down": lambda: False, "up": lambda: True, "zero": lambda: a < 0,
              "away": lambda: a >= 0, "even": lambda: q % 2 == 1}[rule.toward]()
    if rule.nearest:
        twice = 2 * r
        up = (twice > d) | ((twice == d) & tie_up)
    else:
        up = (r != 0) & tie_up
    return q + np.asarray(up).astype(q.dtype)


def rounded(spec, x):
    """The activation of input codes ``x``, clipped and rounded to the output grid but before
    overflow is handled: codes that may lie outside the output format."""
    if spec.kind in TABLE_KINDS:
        x = _checked_codes(spec, x)
        return _table_kind_rounded(spec)[x - spec.input_format.min_code]
    a, e = exact_values(spec, x)
    return _round(a, e - spec.out_frac, spec.rounding)


def golden(spec, x):
    """Output codes of the block described by ``spec`` for input codes ``x``.

    Parameters
    ----------
    spec : Spec
    x : array_like of int, shape ``(..., lanes)``
        Input codes (non-negative for an unsigned input format).

    Returns
    -------
    numpy.ndarray of int64, the same shape: output codes.
    """
    return _overflow(spec, rounded(spec, x))


def _overflow(spec, r):
    """Output codes from rounded values ``r``: ``spec.overflow`` on those out of range."""
    lo, hi = spec.output_range
    if spec.overflow == "wrap":
        span = 1 << spec.out_width
        r = (r - lo) % span + lo
    elif spec.overflow == "saturate_zero":
        r = np.where((r < lo) | (r > hi), 0, r)
    else:
        r = np.clip(r, lo, hi)
    return r.astype(np.int64, copy=False)


# Table kinds ------------------------------------------------------------------------------------

#: Rounded values of every input code per configuration, by :func:`_function_key`; specs that differ
#: only in lanes, stages or names share one computation.
_OUTPUTS = {}
_OUTPUTS_KEPT = 64


def _function_key(spec):
    return (spec.kind, spec.exponential, spec.input_format, spec.output_format,
            spec.output_range, spec.rounding, spec.overflow,
            None if spec.max_value_q is None else spec.max_value_q.value)


def _table_kind_rounded(spec):
    """Rounded values (before overflow) of every input code of ``spec``, lowest first,
    computed once."""
    key = _function_key(spec)
    outputs = _OUTPUTS.get(key)
    if outputs is None:
        if len(_OUTPUTS) >= _OUTPUTS_KEPT:
            _OUTPUTS.clear()
        outputs = _OUTPUTS[key] = _compute_table_kind_rounded(spec)
    return outputs


def _exp_bounds(arg, prec):
    """Integers ``(lo, hi, e)`` with ``lo * 10**e <= exp(arg) <= hi * 10**e``, ``e < 0``,
    for a rational ``arg <= 0``: ``Decimal.exp`` is correctly rounded, so within half a unit
    in the last place; one unit is allowed on each side, and the argument is enclosed by
    rounding it down and up."""
    context = Context(prec=prec, Emin=-999999, Emax=999999)
    ends = []
    for rounding, side in ((ROUND_FLOOR, -1), (ROUND_CEILING, 1)):
        x = Context(prec=prec, rounding=rounding, Emin=-999999, Emax=999999).divide(
            Decimal(arg.numerator), Decimal(arg.denominator))
        y = x.exp(context)
        _, digits, exponent = y.as_tuple()
        ends.append((int("".join(map(str, digits))) + side, exponent))
    e = min(ends[0][1], ends[1][1])
    lo, hi = (m * 10 ** (exponent - e) for m, exponent in ends)
    return lo, hi, e


def _negative_half_floor(twice_scale, arg):
    """``floor(twice_scale * (exp(arg) - 1))`` for a rational ``arg < 0``."""
    p, q = twice_scale.numerator, twice_scale.denominator
    prec = 24
    while True:
        lo, hi, e = _exp_bounds(arg, prec)
        one = 10 ** -e
        floors = {p * (m - one) // (q * one) for m in (lo, hi)}
        if len(floors) == 1:
            return floors.pop()
        prec *= 2


def _round_ratio(n, d, mode):
    """``n / d`` (``d > 0``) rounded to an integer by ``mode``."""
    q, r = divmod(n, d)
    if r == 0:
        return q
    rule = ROUNDING_MODES[mode]
    up = {"down": False, "up": True, "zero": n < 0, "away": n >= 0,
          "even": q % 2 == 1}[rule.toward]
    if rule.nearest and 2 * r != d:
        up = 2 * r > d
    return q + up


def _compute_table_kind_rounded(spec):
    fmt = spec.input_format
    a, divisor = spec.exponential
    twice_scale = 2 * a * (1 << spec.out_frac)
    rule = ROUNDING_MODES[spec.rounding]

    def half_floor(code):
        return _negative_half_floor(twice_scale, Fraction(code, 1 << fmt.frac) / divisor)

    # Half floors (floor(2t), t the value in output steps) of the negative codes. The function
    # rises with x, so they rise too: the codes whose half floor is that of values just above
    # -a (in the open interval (-2a, -2a + 1) in half steps) form a prefix, found by bisection.
    floor_at_limit = (-twice_scale).__floor__()
    low, high = fmt.min_code - 1, min(fmt.max_code + 1, 0)
    while high - low > 1:       # half_floor(low) is the limit's (or low is below the codes)
        mid = (low + high) // 2
        if half_floor(mid) == floor_at_limit:
            low = mid
        else:
            high = mid
    halves = [floor_at_limit] * (low - fmt.min_code + 1)
    halves += [half_floor(code) for code in range(low + 1, min(fmt.max_code + 1, 0))]
    rounded = []
    for m in halves:
        # 2t lies strictly between m and m + 1: never a tie nor a grid point.
        if rule.nearest:
            rounded.append((m + 1) // 2)
        else:
            # Negative values: toward zero goes up, away from zero down.
            lower = m // 2
            up = {"down": 0, "up": 1, "zero": 1, "away": 0, "even": lower % 2}[rule.toward]
            rounded.append(lower + up)

    # The linear side, exactly: v * 2^out_frac = n / d.
    slope = Fraction(SELU_SCALE) if spec.kind == "selu" else Fraction(1)
    shift = spec.out_frac - fmt.frac
    n_scale = slope.numerator << max(shift, 0)
    d = slope.denominator << max(-shift, 0)
    clip = None
    if spec.max_value_q is not None:
        clip = spec.max_value_q.code      # on the output grid: v * 2^out_frac <= clip
    for code in range(max(fmt.min_code, 0), fmt.max_code + 1):
        n = n_scale * code
        if clip is not None and n > clip * d:
            rounded.append(clip)
            continue
        rounded.append(_round_ratio(n, d, spec.rounding))
    return np.array(rounded, dtype=np.int64)
