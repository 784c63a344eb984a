# SPDX-License-Identifier: Apache-2.0
"""The NumPy golden model: bit-exact, vectorized, and independent of the gateware.

It shares only the :class:`~relu_hw.spec.Spec` (formats and quantized constants) with the
hardware. Where the gateware rounds by adding a bias and shifting, this model takes the floor
quotient and remainder and decides ties explicitly; where the gateware clips after rounding, this
model clips the exact value before it.
"""

import numpy as np

from .spec import ROUNDING_MODES

__all__ = ["golden", "exact_values", "rounded"]

# Bits that int64 arithmetic may use before the model switches to Python integers.
_INT64_BITS = 62


def exact_values(spec, x):
    """The activation of input codes ``x`` (shape ``(..., lanes)``), exactly.

    Returns ``(a, e)``: integers ``a`` (same shape as ``x``) and an exponent ``e`` such that the
    activation of each element is ``a / 2**e``. The clip ``max_value`` is applied.
    """
    if spec.channels != spec.lanes:
        raise ValueError(f"With {spec.channels} channels on {spec.lanes} lanes a lane's slope "
                         f"depends on the beat's place in its frame: use "
                         f"relu_hw.frames.FrameModel")
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
    r = rounded(spec, x)
    lo, hi = spec.output_range
    if spec.overflow == "wrap":
        span = 1 << spec.out_width
        r = (r - lo) % span + lo
    elif spec.overflow == "saturate_zero":
        r = np.where((r < lo) | (r > hi), 0, r)
    else:
        r = np.clip(r, lo, hi)
    return r.astype(np.int64, copy=False)
