# SPDX-License-Identifier: Apache-2.0
"""Correctly rounded tables for the kinds whose negative side is an exponential (ELU, SELU,
CELU).

For a table kind the negative side is ``a * (exp(x / d) - 1)`` (:attr:`Spec.exponential
<relu_hw.spec.Spec.exponential>`), which rises from ``-a`` towards 0. Every value is converted
once into the output format, like every other kind: rounded, then overflow handled. Below some
input code, the *bound*, every negative code gives the same output code, the *constant*; the
codes from the bound to -1 each get a table entry. Code 0 and above take the linear side.

Exactness. For a rational ``x`` other than 0, ``exp(x)`` is irrational (Lindemann), so the
value in units of half an output step, ``2t``, is never an integer: it is never a tie nor a
grid point, and every rounding mode is settled by ``floor(2t)`` alone. That floor is computed
from an enclosure of ``exp`` (mpmath's directed rounding, ``mpf_exp`` rounded down and up,
exact rational arithmetic around it), at a precision doubled until both ends of the enclosure
give the same floor, which is then certain.

The bound is computed, not searched for: the output leaves the constant where ``t`` first
exceeds the decision point ``T`` above ``-a`` (in output units) at which the rounding mode
changes its result, that is for ``x > d * ln(1 + T / a)``, again settled by an enclosure. The
tests check it against a search over the exact function at high precision, on every code.
"""

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from mpmath.libmp import (from_rational, mpf_exp, mpf_log, mpf_mul, round_ceiling,
                          round_floor, to_int, to_rational)

from .spec import ROUNDING_MODES, TABLE_KINDS

__all__ = ["Table", "table", "half_floor", "rounded_from_half_floor"]

#: Bits of the first enclosure; doubled until the rounding is certain.
START_PRECISION = 64


@dataclass(frozen=True)
class Table:
    """The negative side of a table kind as built: ``entries[i]`` is the output code of input
    code ``bound + i`` (``bound <= code <= -1``); every input code below ``bound`` gives
    ``constant``.

    ``bound`` is 0 when no negative code needs an entry, and the input format's lowest code
    when none gives the constant. Entries are output codes after overflow, as the hardware
    emits them; low entries equal to ``constant`` are left out, so the first entry differs
    from it.
    """
    bound: int
    constant: int
    entries: tuple

    @property
    def lo(self):
        """The lowest entry (``constant`` with no entries)."""
        return min(self.entries, default=self.constant)

    @property
    def hi(self):
        """The highest entry (``constant`` with no entries)."""
        return max(self.entries, default=self.constant)

    @property
    def _plain_bits(self):
        if self.lo >= 0:
            return max(self.hi.bit_length(), 1)
        return max(self.lo.bit_length(), self.hi.bit_length()) + 1

    @property
    def offset(self):
        """What a stored word adds to make its entry: ``lo`` where words ``entry - lo``
        (unsigned) are narrower than the entries themselves (ELU's ``SQ(8,8)`` entries -255
        to 0 take 8 bits so, not 9), else 0."""
        return self.lo if (self.hi - self.lo).bit_length() < self._plain_bits else 0

    @property
    def bits(self):
        """Bits of a stored word (0 when every entry is the same: no memory is needed)."""
        if self.offset:
            return (self.hi - self.lo).bit_length()
        return self._plain_bits

    @property
    def signed_words(self):
        """Whether stored words are two's complement (entries below 0, stored as they are)."""
        return self.offset == 0 and self.lo < 0

    @property
    def words(self):
        """The stored words, ``entries[i] - offset``, for input codes ``bound + i``."""
        return tuple(entry - self.offset for entry in self.entries)

    def as_dict(self, input_format):
        """For manifests and reports: the bound as a code and a value, the constant, the
        number of entries, the bits of a stored word and what it adds."""
        return {"entries": len(self.entries), "bits": self.bits,
                "total_bits": len(self.entries) * self.bits, "offset": self.offset,
                "bound_code": self.bound, "bound": str(input_format.value(self.bound)),
                "constant": self.constant}


def _enclosure(a, b, prec):
    """``(lo, hi)``, exact rationals, with ``lo <= exp(a / b) <= hi`` (``a``, ``b`` integers,
    ``b > 0``)."""
    lo = mpf_exp(from_rational(a, b, prec, round_floor), prec, round_floor)
    hi = mpf_exp(from_rational(a, b, prec, round_ceiling), prec, round_ceiling)
    return Fraction(*to_rational(lo)), Fraction(*to_rational(hi))


def half_floor(scale, divisor, x):
    """``floor(2 * scale * (exp(x / divisor) - 1))`` for a rational ``x`` other than 0 and
    positive rationals ``scale`` and ``divisor``, certainly: the floor of the value in half
    steps when ``scale`` is ``a`` in output steps."""
    arg = Fraction(x) / divisor
    assert arg != 0, "exp(0) is rational: take the linear side"
    prec = START_PRECISION
    while True:
        lo, hi = _enclosure(arg.numerator, arg.denominator, prec)
        floors = {(2 * scale * (y - 1)).__floor__() for y in (lo, hi)}
        if len(floors) == 1:
            return floors.pop()
        prec *= 2


def rounded_from_half_floor(m, mode, negative):
    """The rounding by ``mode`` of a value ``t`` with ``floor(2t) == m`` that is neither a
    tie nor a grid point; ``negative`` tells its sign."""
    rule = ROUNDING_MODES[mode]
    if rule.nearest:
        return (m + 1) // 2
    lower = m // 2
    return lower + rule.goes_up(lower, negative)


def _overflow(spec, r):
    lo, hi = spec.output_range
    if lo <= r <= hi:
        return r
    if spec.overflow == "wrap":
        return (r - lo) % (1 << spec.out_width) + lo
    if spec.overflow == "saturate_zero":
        return 0
    return min(max(r, lo), hi)


def _bound(spec, scale, divisor, constant_half_floor):
    """The lowest negative input code whose value rounds to another code than values just
    above ``-a`` do, or 0 when there is none."""
    fmt = spec.input_format
    mode = spec.rounding

    def rounded(m):
        return rounded_from_half_floor(m, mode, True)
    # The least half-step point T = m / 2 above -a where the rounding changes its result.
    m = constant_half_floor + 1
    while rounded(m) == rounded(constant_half_floor):
        m += 1
    if m >= 0:
        return 0        # every negative value rounds to the constant
    # t > T  <=>  exp(x / d) > 1 + T / a  <=>  x > d * ln(1 + T / a); a, T in half steps.
    ratio = 1 + Fraction(m) / (2 * scale)
    code_scale = divisor * (1 << fmt.frac)
    prec = START_PRECISION
    while True:
        ends = []
        # The logarithm is negative and the code scale positive: the lower end of the
        # product takes the lower logarithm and the upper code scale, and the other way round.
        for rnd, other in ((round_floor, round_ceiling), (round_ceiling, round_floor)):
            log = mpf_log(from_rational(ratio.numerator, ratio.denominator, prec, rnd), prec,
                          rnd)
            factor = from_rational(code_scale.numerator, code_scale.denominator, prec, other)
            ends.append(to_int(mpf_mul(log, factor, prec, rnd), round_floor))
        if ends[0] == ends[1]:
            return max(ends[0] + 1, fmt.min_code)
        prec *= 2


@lru_cache(maxsize=128)
def table(spec):
    """The :class:`Table` of a table kind (see :data:`~relu_hw.spec.TABLE_KINDS`)."""
    if spec.kind not in TABLE_KINDS:
        raise ValueError(f"Kind {spec.kind!r} has no table; table kinds are "
                         f"{', '.join(TABLE_KINDS)}")
    fmt = spec.input_format
    a, divisor = spec.exponential
    scale = a * (1 << spec.out_frac)            # a in output steps
    # Just above -a, 2t lies in (-2a, -2a + 1) whether or not -2a is an integer.
    constant_half_floor = (-2 * scale).__floor__()
    constant = _overflow(spec, rounded_from_half_floor(constant_half_floor, spec.rounding,
                                                       True))
    if not fmt.signed:
        return Table(0, constant, ())
    bound = _bound(spec, scale, divisor, constant_half_floor)
    entries = []
    for code in range(bound, 0):
        m = half_floor(scale, divisor, Fraction(code, 1 << fmt.frac))
        entry = _overflow(spec, rounded_from_half_floor(m, spec.rounding, True))
        if entries or entry != constant:
            entries.append(entry)
        else:
            bound += 1
    return Table(bound, constant, tuple(entries))

