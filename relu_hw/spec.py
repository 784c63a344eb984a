# SPDX-License-Identifier: Apache-2.0
"""The numeric specification of a ReLU-family block.

One :class:`Spec` drives the gateware, the golden model and the manifest. It validates every
parameter eagerly and quantizes the constants (slopes, threshold, clip) once, here, so that
hardware and software read the same integers.

Semantics
---------
Every activation is computed *exactly* (rational arithmetic on the quantized constants) and then
converted once into the output format, first rounding to the output grid with :attr:`rounding`,
then handling overflow with :attr:`overflow`. This is the casting rule of ``ap_fixed``.

Numbers use RFC 41 vocabulary: a format ``SQ(i, f)`` is a signed two's complement number of
``i + f`` bits of which ``f`` are fractional, ``UQ(i, f)`` an unsigned one; here it is given as
``width``, ``frac`` and ``signed``. :func:`parse_format` reads that notation and
:func:`parse_type` the C++ type strings of ``ap_fixed`` and hls4ml.
"""

import math
import numbers
import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property, lru_cache

import numpy as np

__all__ = [
    "KINDS", "ROUNDING_MODES", "OVERFLOW_MODES", "SLOPE_IMPLS", "READY_MODES", "ZEROING_MODES",
    "CONTROL_MODES", "RUNTIME_PARAMS", "TABLE_KINDS", "SELU_SCALE", "SELU_ALPHA", "FixedFormat",
    "Quantized", "Rounding", "Spec", "parse_constant", "round_quotient", "parse_format",
    "parse_type", "rounding_mode", "overflow_mode", "FRAMEWORKS",
]

#: Activation kinds and a one-line definition of each.
KINDS = {
    "relu":             "max(x, 0)",
    "leaky_relu":       "x if x >= 0 else slope * x",
    "prelu":            "x if x >= 0 else slopes[lane] * x",
    "thresholded_relu": "x if x > threshold else 0",
    "elu":              "x if x > 0 else alpha * (exp(x) - 1)",
    "selu":             "scale * x if x > 0 else scale * alpha * (exp(x) - 1)",
    "celu":             "x if x > 0 else alpha * (exp(x / alpha) - 1)",
}

#: Kinds whose negative side is an exponential: built from a table of correctly rounded
#: values (see :mod:`relu_hw.table`).
TABLE_KINDS = ("elu", "selu", "celu")

#: SELU's constants, PyTorch's (``torch.nn.SELU``), exactly as it writes them.
SELU_SCALE = "1.0507009873554804934193349852946"
SELU_ALPHA = "1.6732632423543772848170429916717"

DEFAULT_ALPHA = "1"
#: ``alpha`` of ``elu`` and ``celu`` lies in [ALPHA_MIN, ALPHA_LIMIT).
ALPHA_MIN, ALPHA_LIMIT = Fraction(1, 2 ** 16), 2 ** 16
#: Table kinds take inputs up to this width: a table of 2^15 entries at most.
MAX_TABLE_WIDTH = 16

@dataclass(frozen=True)
class Rounding:
    """A rounding rule: which of two neighbouring grid points a value strictly between them
    goes to.

    A ``nearest`` rule takes the nearer point and applies ``toward`` only to a value exactly
    halfway (a tie); a directed rule (``nearest`` false) always goes ``toward``: ``"down"``
    (minus infinity), ``"up"`` (plus infinity), ``"zero"``, ``"away"`` (from zero) or
    ``"even"`` (the neighbour whose code is even).

    ``ap_fixed`` is the ``ap_fixed`` quantization mode that equals the rule (``None`` where
    there is none); ``names`` are other frameworks' names for it, each ``"framework:NAME"``
    with a framework of :data:`FRAMEWORKS`.

    This table is the one place rounding is decided. The golden model, the gateware and the
    formal contract each implement it on their own from here.
    """
    nearest: bool
    toward: str
    ap_fixed: str | None
    description: str
    names: tuple = ()

    def goes_up(self, lower_code, negative):
        """Whether a value between grid codes ``lower_code`` and ``lower_code + 1`` that the
        rule does not settle by distance goes to the upper one; ``negative`` tells the sign
        of the value."""
        return {"down": False, "up": True, "zero": negative, "away": not negative,
                "even": lower_code % 2 == 1}[self.toward]


#: Frameworks whose names for the modes are accepted as ``framework:NAME``, and what each
#: name is taken from.
FRAMEWORKS = {
    "ap_fixed": "the quantization and overflow modes of Xilinx's ap_fixed (and hls4ml)",
    "qonnx": "the rounding_mode attribute of QONNX's Quant and IntQuant",
    "brevitas": "Brevitas's FloatToIntImplType",
    "onnx": "the ONNX operator that rounds so",
}

#: Rounding modes, each with the ``ap_fixed`` quantization mode it equals and the names other
#: frameworks give it. QONNX's HALF_UP is ties away from zero, our ``half_away``, and its
#: HALF_DOWN ties toward zero: see :func:`rounding_mode` for how such names are taken.
ROUNDING_MODES = {
    "floor":            Rounding(False, "down", "AP_TRN", "toward minus infinity (truncate)",
                                 ("qonnx:FLOOR", "brevitas:FLOOR", "onnx:Floor")),
    "ceil":             Rounding(False, "up", None, "toward plus infinity",
                                 ("qonnx:CEIL", "brevitas:CEIL", "onnx:Ceil")),
    "toward_zero":      Rounding(False, "zero", "AP_TRN_ZERO", "toward zero",
                                 ("qonnx:DOWN", "brevitas:ROUND_TO_ZERO")),
    "away":             Rounding(False, "away", None, "away from zero", ("qonnx:UP",)),
    "half_up":          Rounding(True, "up", "AP_RND", "to nearest, ties toward plus infinity"),
    "half_down":        Rounding(True, "down", "AP_RND_MIN_INF",
                                 "to nearest, ties toward minus infinity"),
    "half_toward_zero": Rounding(True, "zero", "AP_RND_ZERO", "to nearest, ties toward zero",
                                 ("qonnx:HALF_DOWN",)),
    "half_away":        Rounding(True, "away", "AP_RND_INF",
                                 "to nearest, ties away from zero", ("qonnx:HALF_UP",)),
    "half_even":        Rounding(True, "even", "AP_RND_CONV", "to nearest, ties to even",
                                 ("qonnx:ROUND", "qonnx:HALF_EVEN", "brevitas:ROUND",
                                  "onnx:QuantizeLinear", "onnx:Round")),
}


def _mode_names(table, ap_fixed_of, names_of):
    """``{framework: {NAME in upper case: mode}}`` for a table of modes."""
    names = {framework: {} for framework in FRAMEWORKS}
    for mode, entry in table.items():
        if ap_fixed_of(entry):
            names["ap_fixed"][ap_fixed_of(entry).upper()] = mode
        for name in names_of(entry):
            framework, _, name = name.partition(":")
            names[framework][name.upper()] = mode
    return names


def _resolve_mode(value, what, table, names, example):
    """The mode of ``table`` that ``value`` names: one of ours, or ``framework:NAME``, or a
    framework's name alone when every mode of that spelling (ours and every framework's,
    letter case aside) means the same."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, one of {', '.join(map(repr, table))}, "
                        f"not {value!r}")
    if value in table:
        return value
    framework, colon, name = value.strip().rpartition(":")
    if colon:
        known = names.get(framework.lower())
        if known is None:
            raise ValueError(f"{what} {value!r} has an unknown framework prefix; prefixes are "
                             f"{', '.join(f'{f}:' for f in FRAMEWORKS)}")
        if name.upper() not in known:
            raise ValueError(f"{what} {value!r} is not a name {framework.lower()} gives a mode "
                             f"here; it has {', '.join(sorted(known)) or 'none'}")
        return known[name.upper()]
    meanings = {}
    if name.lower() in table:
        meanings.setdefault(name.lower(), []).append(name.lower())
    for framework, known in names.items():
        if name.upper() in known:
            meanings.setdefault(known[name.upper()], []).append(
                f"{framework}:{name.upper()}")
    if len(meanings) == 1:
        return next(iter(meanings))
    if not meanings:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, table))}, or a "
                         f"framework's name for one such as {example}, not {value!r}")
    readings = "; ".join(f"{' and '.join(who)}: {table_description(mode)}"
                         for mode, who in meanings.items())
    raise ValueError(f"{what} {value!r} means different things in different tools "
                     f"({readings}), so it is taken only as one of these spellings")


def table_description(mode):
    """A mode's meaning in words, for messages."""
    entry = ROUNDING_MODES.get(mode)
    return f"{mode}, {entry.description}" if entry else mode


_ROUNDING_NAMES = _mode_names(ROUNDING_MODES, lambda r: r.ap_fixed, lambda r: r.names)


def rounding_mode(value):
    """The rounding mode of :data:`ROUNDING_MODES` that ``value`` names.

    Our names are taken as they are. A framework's name is taken with its prefix
    (``"qonnx:HALF_UP"``, ``"ap_fixed:AP_RND_CONV"``), or alone (``"AP_RND_CONV"``,
    ``"CEIL"``) when it means the same in every framework that has it and, letter case aside,
    it is not one of ours with another meaning: QONNX's ``HALF_UP`` rounds ties away from zero
    where our ``half_up`` rounds them up, so ``"HALF_UP"`` alone is refused.
    """
    return _resolve_mode(value, "Rounding mode", ROUNDING_MODES, _ROUNDING_NAMES,
                         "'AP_RND_CONV' or 'qonnx:HALF_UP'")


def round_quotient(n, k, mode):
    """``n / 2**k`` (integers, ``k >= 0``) rounded to an integer by rounding mode ``mode``:
    the rule of :data:`ROUNDING_MODES` applied to one number, for constants and static
    ranges."""
    q, r = divmod(n, 1 << k)            # floor quotient, 0 <= r < 2**k
    if r == 0:
        return q
    rule = ROUNDING_MODES[mode]
    if rule.nearest and 2 * r != 1 << k:
        return q + (2 * r > 1 << k)
    return q + rule.goes_up(q, n < 0)


#: Overflow modes, with the ``ap_fixed`` overflow mode each one equals. ``saturate_zero``
#: makes any result out of range zero.
OVERFLOW_MODES = {
    "wrap":               "AP_WRAP",
    "saturate":           "AP_SAT",
    "saturate_symmetric": "AP_SAT_SYM",
    "saturate_zero":      "AP_SAT_ZERO",
}

_OVERFLOW_NAMES = _mode_names(OVERFLOW_MODES, lambda ap: ap, lambda ap: ())


def overflow_mode(value):
    """The overflow mode of :data:`OVERFLOW_MODES` that ``value`` names: one of ours, or
    ``ap_fixed``'s name, alone or as ``"ap_fixed:AP_SAT"``."""
    return _resolve_mode(value, "Overflow mode", OVERFLOW_MODES, _OVERFLOW_NAMES,
                         "'AP_SAT' or 'ap_fixed:AP_SAT_ZERO'")

#: How a slope multiplication is built.
SLOPE_IMPLS = ("auto", "shift", "shift_add", "multiplier")

#: How the stream's input ``ready`` is produced.
READY_MODES = ("registered", "combinational")

#: How an output forced to a constant (ReLU's zero, a clip or saturation limit, the constant
#: bits of a narrow branch) is made: ``reset`` by the flip-flops' synchronous reset or set
#: (free where it waits for the clock enable, as iCE40's SB_DFFESR), ``logic`` by masks before
#: the register (keeps control logic off the reset pins where the reset overrides the enable,
#: as on ECP5 and Xilinx), ``auto`` logic with registered ready, reset with combinational.
ZEROING_MODES = ("auto", "reset", "logic")

#: How software reaches the block: ``none`` (a plain stream block) or ``axi-lite`` (an AXI4-Lite
#: slave with identity, control, runtime parameter and telemetry registers).
CONTROL_MODES = ("none", "axi-lite")

#: Constants that ``runtime`` may turn into registers (with control ``axi-lite``).
RUNTIME_PARAMS = ("slope", "max_value", "threshold")

MIN_WIDTH, MAX_WIDTH = 2, 32
MAX_LANES = 256
MAX_STAGES = 16
MAX_USER_WIDTH = 64
MAX_SLOPE_FRAC = 32
#: A slope's magnitude must be below this.
SLOPE_LIMIT = 2 ** 16
#: Automatic slope quantization keeps the slope within this relative error.
SLOPE_TOLERANCE = Fraction(1, 2 ** 12)
#: Slopes whose canonical signed-digit form has at most this many non-zero digits are built
#: from shifts and adds when ``slope_impl`` is ``auto``; others use a multiplier.
AUTO_SHIFT_ADD_DIGITS = 3

#: Most channels of a per-channel PReLU.
MAX_CHANNELS = 4096
#: Most lanes of a block with control: one ALIVE register holds a bit per lane.
MAX_CONTROL_LANES = 32
#: A runtime slope is a register of ``slope_frac`` fractional bits and this many integer bits
#: (the sign included): slopes from -2 to just below 2.
RUNTIME_SLOPE_INT_BITS = 2
#: Fractional bits of a runtime slope when ``slope_frac`` is not given (a 16-bit register).
RUNTIME_SLOPE_FRAC = 14
#: Registers are 32 bits wide.
REGISTER_BITS = 32

DEFAULT_SLOPE = "0.01"
DEFAULT_THRESHOLD = "1"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")

#: Reserved words of Verilog (IEEE 1364-2005) and SystemVerilog (IEEE 1800-2017): a module
#: named so would need an escaped identifier.
HDL_KEYWORDS = frozenset("""
accept_on alias always always_comb always_ff always_latch and assert assign assume automatic
before begin bind bins binsof bit break buf bufif0 bufif1 byte case casex casez cell chandle
checker class clocking cmos config const constraint context continue cover covergroup
coverpoint cross deassign default defparam design disable dist do edge else end endcase
endchecker endclass endclocking endconfig endfunction endgenerate endgroup endinterface
endmodule endpackage endprimitive endprogram endproperty endsequence endspecify endtable
endtask enum event eventually expect export extends extern final first_match for force
foreach forever fork forkjoin function generate genvar global highz0 highz1 if iff ifnone
ignore_bins illegal_bins implements implies import incdir include initial inout input inside
instance int integer interconnect interface intersect join join_any join_none large let
liblist library local localparam logic longint macromodule matches medium modport module nand
negedge nettype new nexttime nmos nor noshowcancelled not notif0 notif1 null or output
package packed parameter pmos posedge primitive priority program property protected pull0
pull1 pulldown pullup pulsestyle_ondetect pulsestyle_onevent pure rand randc randcase
randsequence rcmos real realtime ref reg reject_on release repeat restrict return rnmos rpmos
rtran rtranif0 rtranif1 s_always s_eventually s_nexttime s_until s_until_with scalared
sequence shortint shortreal showcancelled signed small soft solve specify specparam static
string strong strong0 strong1 struct super supply0 supply1 sync_accept_on sync_reject_on
table tagged task this throughout time timeprecision timeunit tran tranif0 tranif1 tri tri0
tri1 triand trior trireg type typedef union unique unique0 unsigned until until_with untyped
use uwire var vectored virtual void wait wait_order wand weak weak0 weak1 while wildcard wire
with within wor xnor xor
""".split())


#: Largest decimal exponent a constant may be written with (``1e-1000`` .. ``1e1000``); more
#: would take seconds and memory to expand, for a number no format here can hold.
MAX_EXPONENT = 1000
_EXPONENT = re.compile(r"[eE]\s*([+-]?\d+)")


def parse_constant(value, name):
    """Parse a decimal or fraction string (or an int, float or :class:`Fraction`, NumPy's
    included) exactly.

    Raises :exc:`TypeError` for other types and :exc:`ValueError` for text that is not a finite
    number, or whose exponent is beyond :data:`MAX_EXPONENT`, naming the parameter ``name``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (str, numbers.Integral, numbers.Real, Fraction)):
        raise TypeError(f"{name} must be a decimal or fraction string, not {value!r}")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, numbers.Integral):
        return Fraction(int(value))
    text = value if isinstance(value, str) else repr(float(value))
    # Bound the exponent before Fraction expands it into an integer of that many digits.
    exponent = _EXPONENT.search(text)
    if exponent and abs(int(exponent.group(1))) > MAX_EXPONENT:
        raise ValueError(f"{name} must have an exponent from -{MAX_EXPONENT} to "
                         f"{MAX_EXPONENT}, not {value!r}")
    try:
        # Fraction parses "0.01", "1e-2", "41/4096" exactly and rejects "nan" and "inf".
        return Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{name} must be a finite decimal or fraction such as '0.01' or "
                         f"'41/4096', not {value!r}") from None


def _check_int(value, name, lo, hi):
    """``value`` as a Python int (NumPy integers too); :exc:`TypeError` or
    :exc:`ValueError` with a sentence otherwise."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")
    return value


def _check_bool(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, not {value!r}")
    return bool(value)


def _check_choice(value, name, choices):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {', '.join(map(repr, choices))}, "
                        f"not {value!r}")
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                         f"not {value!r}")
    return str(value)


@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point format: ``SQ(width - frac, frac)``, signed two's complement, or
    ``UQ(width - frac, frac)``, unsigned.

    A code ``c`` (an integer in ``[min_code, max_code]``) stands for ``c / 2**frac``.
    """
    width: int
    frac: int
    signed: bool = True

    @property
    def min_code(self):
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self):
        return (1 << (self.width - self.signed)) - 1

    @property
    def lane_bits(self):
        """Bits a lane of this format occupies in AXI4-Stream TDATA: whole bytes."""
        return -(-self.width // 8) * 8

    def value(self, code):
        return Fraction(code, 1 << self.frac)

    def codes(self, bits):
        """Codes of this format from raw bits: the low ``width`` bits of each non-negative
        integer in ``bits`` (an int, or an array of NumPy integers), read as two's complement
        when signed. Arrays come back as ``int64``."""
        mask = (1 << self.width) - 1
        half = (1 << (self.width - 1)) if self.signed else 0
        if isinstance(bits, int):
            u = bits & mask
            return u - (u & half) * 2
        u = (np.asarray(bits) & mask).astype(np.int64)
        return u - (u & half) * 2 if half else u

    def as_dict(self):
        return {"width": self.width, "frac": self.frac, "signed": self.signed,
                "lane_bits": self.lane_bits}

    def __str__(self):
        return f"{'S' if self.signed else 'U'}Q({self.width - self.frac}, {self.frac})"


_RFC41 = re.compile(r"\s*([SU])Q\s*\(\s*(-?\d+)\s*,\s*(-?\d+)\s*\)\s*", re.I)
_TYPE = re.compile(r"\s*(ap_)?(u?)(fixed|int)\s*<([^<>]*)>\s*")
_AP_ROUNDING = {r.ap_fixed.upper(): mode for mode, r in ROUNDING_MODES.items() if r.ap_fixed}
_AP_OVERFLOW = {ap.upper(): mode for mode, ap in OVERFLOW_MODES.items()}


def _format(width, frac, signed, text, what):
    """A :class:`FixedFormat`, or :exc:`ValueError` naming ``what`` and ``text``."""
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"{what} {text!r} is {width} bits wide; widths are {MIN_WIDTH} to "
                         f"{MAX_WIDTH}")
    if not 0 <= frac <= width:
        raise ValueError(f"{what} {text!r} has {frac} fractional bits of {width}; they must be "
                         f"0 to the width (no integer bits below the point or beyond the "
                         f"width)")
    return FixedFormat(width, frac, signed)


def parse_format(text, what="Format"):
    """A :class:`FixedFormat` from RFC 41 notation: ``"SQ(i, f)"`` (signed, ``i`` integer
    bits counting the sign) or ``"UQ(i, f)"`` (unsigned), ``i + f`` bits in all."""
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string such as 'SQ(4, 4)' or 'UQ(4, 4)', not "
                        f"{text!r}")
    hit = _RFC41.fullmatch(text)
    if not hit:
        raise ValueError(f"{what} must be written SQ(i, f) (signed) or UQ(i, f) (unsigned), "
                         f"with i integer and f fractional bits, not {text!r}")
    i, f = int(hit.group(2)), int(hit.group(3))
    return _format(i + f, f, hit.group(1).upper() == "S", text, what)


def parse_type(text, what="Type"):
    """``(format, rounding, overflow)`` from a C++ fixed-point type string:
    ``ap_fixed<W, I[, Q[, O[, N]]]>`` and ``ap_ufixed<...>`` (``I`` integer bits, counting the
    sign of a signed type), ``ap_int<W>`` and ``ap_uint<W>``, and hls4ml's ``fixed<W, I>``,
    ``ufixed<W, I>``, ``int<W>`` and ``uint<W>``.

    ``rounding`` and ``overflow`` are our names for the modes ``Q`` and ``O`` (with or without
    ``AP_``), ``None`` where the string omits them; ``N``, saturation bits, must be 0.
    """
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a string such as 'ap_fixed<16,6>', not {text!r}")
    hit = _TYPE.fullmatch(text)
    if not hit:
        raise ValueError(f"{what} must be a type such as 'ap_fixed<16,6>', "
                         f"'ap_ufixed<8,3,AP_RND_CONV,AP_SAT>' or 'fixed<16,6>', not {text!r}")
    signed, is_int = hit.group(2) == "", hit.group(3) == "int"
    params = [p.strip() for p in hit.group(4).split(",")]
    count = 1 if is_int else 2
    if len(params) < count or (is_int and len(params) > 1) or len(params) > 5:
        wanted = "one parameter (W)" if is_int else "two to five parameters (W, I[, Q[, O[, N]]])"
        raise ValueError(f"{what} {text!r} must have {wanted}")
    try:
        width = int(params[0])
        int_bits = width if is_int else int(params[1])
    except ValueError:
        raise ValueError(f"{what} {text!r} must give its width and integer bits as integers"
                         ) from None
    fmt = _format(width, width - int_bits, signed, text, what)

    def mode(index, known, kind):
        if len(params) <= index:
            return None
        name = params[index].upper()
        name = name if name.startswith("AP_") else "AP_" + name
        if name not in known:
            raise ValueError(f"{what} {text!r} has {kind} mode {params[index]!r}; ap_fixed's "
                             f"are {', '.join(sorted(known))}")
        return known[name]
    rounding = mode(2, _AP_ROUNDING, "quantization")
    overflow = mode(3, _AP_OVERFLOW, "overflow")
    if len(params) == 5 and params[4] != "0":
        raise ValueError(f"{what} {text!r} asks for {params[4]} saturation bits (N); only 0, "
                         f"the default, is built")
    return fmt, rounding, overflow


@dataclass(frozen=True)
class Quantized:
    """A constant as asked for and as built: ``code / 2**frac``."""
    requested: Fraction
    code: int
    frac: int

    @property
    def value(self):
        return Fraction(self.code, 1 << self.frac)

    @property
    def error(self):
        return self.value - self.requested

    @property
    def relative_error(self):
        return abs(self.error) / abs(self.requested) if self.requested else Fraction(0)

    @property
    def is_power_of_two(self):
        return abs(self.code) & (abs(self.code) - 1) == 0 and self.code != 0

    def as_dict(self):
        return {"requested": str(self.requested), "value": str(self.value),
                "code": self.code, "frac": self.frac, "error": str(self.error),
                "relative_error": float(self.relative_error)}


def csd_digits(n):
    """Canonical signed-digit form of ``n``: a list of ``(sign, shift)`` with ``n`` equal to
    the sum of ``sign << shift``, with no two adjacent non-zero digits (the fewest adders)."""
    digits, shift = [], 0
    while n:
        if n & 1:
            digit = 2 - (n & 3)  # +1 when n = 1 mod 4, -1 when n = 3 mod 4
            digits.append((digit, shift))
            n -= digit
        n >>= 1
        shift += 1
    return digits


def quantize_slope(requested, slope_frac, name):
    """Round ``requested`` to ``slope_frac`` fractional bits (nearest, ties to even); with
    ``slope_frac=None`` take the fewest bits that keep it within :data:`SLOPE_TOLERANCE`
    relative (or exact). The result is canonical: an odd code, or zero with ``frac`` 0."""
    def at(frac):
        return Quantized(requested, round(requested * (1 << frac)), frac)

    if slope_frac is None:
        for frac in range(MAX_SLOPE_FRAC + 1):
            q = at(frac)
            if q.relative_error <= SLOPE_TOLERANCE:
                break
        else:
            raise ValueError(
                f"{name} {requested} cannot be quantized within 2^-12 relative with at most "
                f"{MAX_SLOPE_FRAC} fractional bits; give slope_frac to accept a coarser slope")
    else:
        q = at(slope_frac)
    code, frac = q.code, q.frac
    while frac > 0 and code % 2 == 0:
        code, frac = code // 2, frac - 1
    if code == 0:
        frac = 0
    return Quantized(requested, code, frac)


@lru_cache(maxsize=64)
def exact_scale_frac(scale, fmt, out_frac):
    """The fewest fractional bits ``k`` such that ``scale`` rounded to ``k`` bits, ``s``,
    rounds every positive code ``x`` of input format ``fmt`` as ``scale`` does, in every
    rounding mode, into an output with ``out_frac`` fractional bits.

    Rounding (and a clip on the output grid) depends only on which open interval between
    multiples of half an output step the product lies in. With ``D`` the least distance of
    any ``scale * x`` from such a multiple, ``|s - scale| * max_code < D`` keeps every
    ``s * x`` in the interval of ``scale * x``. ``D`` must be positive: no ``scale * x`` may
    lie on a multiple (a tie), which holds for a decimal scale whose denominator keeps a
    factor 5 that no input code cancels, as SELU's."""
    # scale * x in half output steps: scale * x * 2^(out_frac - frac + 1) = x * num / den.
    halves = scale * Fraction(2) ** (out_frac - fmt.frac + 1)
    num, den = halves.numerator, halves.denominator
    top = fmt.max_code
    nearest = min(min(r, den - r) for r in (x * num % den for x in range(1, top + 1)))
    if nearest == 0:
        raise ValueError(f"Scale {scale} times some input code lies on a tie of the output "
                         f"grid; no quantized scale is provably exact")
    distance = Fraction(nearest, den)
    for k in range(MAX_SLOPE_FRAC * 2 + 1):
        error = abs(Fraction(round(scale * (1 << k)), 1 << k) - scale)
        if error * halves / scale * top < distance:
            return k
    raise ValueError(f"Scale {scale} needs more than {MAX_SLOPE_FRAC * 2} fractional bits to "
                     f"round every input code as the exact scale does")


@dataclass(frozen=True)
class Spec:
    """Everything that defines a block: numbers, constants, shape and name.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    width, frac : int
        Input format: ``width`` bits (2 to 32), ``frac`` of them fractional (0 to ``width``).
    out_width, out_frac : int or None
        Output format; ``None`` means the same as the input.
    signed, out_signed : bool or None
        Whether the input (output) format is signed two's complement or unsigned;
        ``out_signed=None`` means the same as the input. An unsigned output holds only
        non-negative codes: an activation below zero is out of its range, and ``overflow``
        decides what it becomes.
    slope : str or None
        ``leaky_relu`` slope, any finite real; ``None`` means :data:`DEFAULT_SLOPE`.
    slopes : sequence of str or None
        ``prelu`` slopes, one per lane.
    slope_frac : int or None
        Fractional bits of the quantized slopes; ``None`` picks the fewest that keep each
        slope within 2^-12 relative of what was asked.
    slope_impl : str
        One of :data:`SLOPE_IMPLS`.
    threshold : str or None
        ``thresholded_relu`` threshold; ``None`` means :data:`DEFAULT_THRESHOLD`.
    alpha : str or None
        ``elu`` and ``celu`` alpha, from 2^-16 to below 2^16, taken exactly (the table holds
        the exact function rounded once); ``None`` means :data:`DEFAULT_ALPHA`. ``selu`` has
        PyTorch's constants :data:`SELU_SCALE` and :data:`SELU_ALPHA`. These kinds take input
        widths up to :data:`MAX_TABLE_WIDTH`.
    max_value : str or None
        Clip the activation from above (before conversion to the output format); at least 0.
    rounding, overflow : str
        One of :data:`ROUNDING_MODES` and one of :data:`OVERFLOW_MODES`, or a framework's name
        for one (see :func:`rounding_mode` and :func:`overflow_mode`); stored as ours.
    lanes : int
        Parallel lanes per beat (1 to 256).
    stages : int
        Register stages of the pipeline (1 to 16); the latency in cycles.
    ready : str
        One of :data:`READY_MODES`.
    zeroing : str
        One of :data:`ZEROING_MODES`.
    user_width : int
        Width of the sideband ``user`` field (0 to 64; 0 for none).
    name : str or None
        Verilog module name; ``None`` means ``f"{kind}_axis"``.
    control : str
        One of :data:`CONTROL_MODES`; ``"none"`` leaves the block a plain stream block.
    runtime : sequence of str, or a comma-separated str
        Constants (of :data:`RUNTIME_PARAMS`) that become registers, which reset to the values
        given here; needs control ``"axi-lite"``. A runtime slope is a multiplier by a
        register of ``slope_frac`` fractional bits (default :data:`RUNTIME_SLOPE_FRAC`).
    channels : int or None
        ``prelu`` channels (a multiple of ``lanes``, up to :data:`MAX_CHANNELS`), one slope
        each; the beats of a frame take channels in order, ``lanes`` at a time, wrapping
        round, and TLAST restarts at channel 0. ``None`` means one channel per lane.
    """
    kind: str = "relu"
    width: int = 16
    frac: int = 8
    out_width: int | None = None
    out_frac: int | None = None
    signed: bool = True
    out_signed: bool | None = None
    slope: str | None = None
    slopes: tuple | None = None
    slope_frac: int | None = None
    slope_impl: str = "auto"
    threshold: str | None = None
    alpha: str | None = None
    max_value: str | None = None
    rounding: str = "floor"
    overflow: str = "saturate"
    lanes: int = 4
    stages: int = 1
    ready: str = "registered"
    zeroing: str = "auto"
    user_width: int = 0
    name: str | None = None
    control: str = "none"
    runtime: tuple = ()
    channels: int | None = None
    # Derived in __post_init__, not parameters.
    _consts: dict = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self):
        def store(field_name, value):
            object.__setattr__(self, field_name, value)

        store("kind", _check_choice(self.kind, "Activation kind", tuple(KINDS)))
        store("width", _check_int(self.width, "Input width", MIN_WIDTH, MAX_WIDTH))
        store("frac", _check_int(self.frac, "Input fractional bits (frac)", 0, self.width))
        if self.out_width is None:
            store("out_width", self.width)
        store("out_width", _check_int(self.out_width, "Output width", MIN_WIDTH, MAX_WIDTH))
        if self.out_frac is None:
            if self.frac > self.out_width:
                raise ValueError(f"Output fractional bits (out_frac) default to the input's "
                                 f"({self.frac}), which do not fit an output width of "
                                 f"{self.out_width}; give out_frac from 0 to {self.out_width}")
            store("out_frac", self.frac)
        store("out_frac", _check_int(self.out_frac, "Output fractional bits (out_frac)", 0,
                                     self.out_width))
        store("signed", _check_bool(self.signed, "Input signedness (signed)"))
        if self.out_signed is None:
            store("out_signed", self.signed)
        store("out_signed", _check_bool(self.out_signed, "Output signedness (out_signed)"))
        store("rounding", rounding_mode(self.rounding))
        store("overflow", overflow_mode(self.overflow))
        store("slope_impl", _check_choice(self.slope_impl, "Slope implementation",
                                          SLOPE_IMPLS))
        store("ready", _check_choice(self.ready, "Ready mode", READY_MODES))
        store("zeroing", _check_choice(self.zeroing, "Zeroing", ZEROING_MODES))
        store("lanes", _check_int(self.lanes, "Lane count", 1, MAX_LANES))
        store("stages", _check_int(self.stages, "Stage count", 1, MAX_STAGES))
        store("user_width", _check_int(self.user_width, "User width", 0, MAX_USER_WIDTH))
        if self.slope_frac is not None:
            store("slope_frac", _check_int(self.slope_frac, "Slope fractional bits "
                                           "(slope_frac)", 0, MAX_SLOPE_FRAC))
        if self.name is None:
            store("name", f"{self.kind}_axis")
        if not isinstance(self.name, str) or not _IDENTIFIER.fullmatch(self.name):
            raise ValueError(f"Name must be a Verilog identifier (a letter or '_', then "
                             f"letters, digits or '_', at most 128), not {self.name!r}")
        if self.name in HDL_KEYWORDS:
            raise ValueError(f"Name must not be a Verilog or SystemVerilog keyword, which "
                             f"tools would need escaped, not {self.name!r}")

        def only_for(param, kinds):
            if getattr(self, param) is not None and self.kind not in kinds:
                raise ValueError(f"{param} applies to kind {' or '.join(kinds)} only, "
                                 f"not {self.kind!r}")
        only_for("slope", ("leaky_relu",))
        only_for("slopes", ("prelu",))
        only_for("threshold", ("thresholded_relu",))
        only_for("alpha", ("elu", "celu"))
        if self.kind not in ("leaky_relu", "prelu"):
            if self.slope_frac is not None or self.slope_impl != "auto":
                raise ValueError(f"slope_frac and slope_impl apply to kind leaky_relu or "
                                 f"prelu only, not {self.kind!r}")

        self._check_control()

        consts = {"slopes": None, "threshold": None, "max_value": None, "alpha": None,
                  "scale": None}
        if self.kind in TABLE_KINDS:
            self._check_table_kind(consts)
        if self.kind == "leaky_relu":
            slope = DEFAULT_SLOPE if self.slope is None else self.slope
            consts["slopes"] = (self._slope(slope, "Slope"),) * self.lanes
        elif self.kind == "prelu":
            if self.slopes is None:
                raise ValueError(f"Kind 'prelu' needs slopes, one per lane ({self.lanes})")
            slopes = self.slopes
            if isinstance(slopes, str):
                slopes = [s for s in slopes.split(",")]
            slopes = tuple(slopes)
            object.__setattr__(self, "slopes", slopes)
            if self.channels != self.lanes:
                if len(slopes) != self.channels:
                    raise ValueError(f"Slope count must equal the channel count "
                                     f"({self.channels}), not {len(slopes)}")
            elif len(slopes) != self.lanes:
                raise ValueError(f"Slope count must equal the lane count ({self.lanes}), "
                                 f"not {len(slopes)}")
            what = "channel" if self.channels != self.lanes else "lane"
            consts["slopes"] = tuple(self._slope(s, f"Slope of {what} {i}")
                                     for i, s in enumerate(slopes))
        elif self.kind == "thresholded_relu":
            t = parse_constant(DEFAULT_THRESHOLD if self.threshold is None else self.threshold,
                               "Threshold")
            # x > t is exactly x_code > floor(t * 2^frac) on the input grid; clamping to one
            # below the smallest code and to the largest code keeps that true.
            fmt = self.input_format
            code = (t.numerator << fmt.frac) // t.denominator
            code = max(fmt.min_code - 1, min(fmt.max_code, code))
            consts["threshold"] = Quantized(t, code, fmt.frac)
        if self.max_value is not None:
            m = parse_constant(self.max_value, "max_value")
            if m < 0:
                raise ValueError(f"max_value must be at least 0, not {self.max_value!r}")
            if m >= 1 << 40:
                raise ValueError(f"max_value must be below 2^40, not {self.max_value!r}")
            # The clip is a value on the output grid, rounded down so it never exceeds m.
            code = (m.numerator << self.out_frac) // m.denominator
            if code == 0 and m != 0:
                raise ValueError(f"max_value {self.max_value} floors to 0 on the output grid "
                                 f"(out_frac {self.out_frac}), which would make every output "
                                 f"0; it needs out_frac {math.ceil(-math.log2(m))} or more")
            consts["max_value"] = Quantized(m, code, self.out_frac)
            if "max_value" in self.runtime and code > self.output_format.max_code:
                raise ValueError(
                    f"max_value {self.max_value} is above the output format's largest value "
                    f"{self.output_format.value(self.output_format.max_code)}; a runtime "
                    f"max_value starts from a value its register (the output format) holds")
        object.__setattr__(self, "_consts", consts)
        if "slope" in self.runtime:
            lo, hi = self.runtime_slope_range
            for i, q in enumerate(consts["slopes"]):
                code = q.code << (self.slope_frac - q.frac)
                if not lo <= code <= hi:
                    raise ValueError(
                        f"A runtime slope is a register of {RUNTIME_SLOPE_INT_BITS} integer "
                        f"and {self.slope_frac} fractional bits, which holds slopes from -2 "
                        f"to {Fraction(hi, 1 << self.slope_frac)}, not {q.value}"
                        + (f" (slope {i})" if self.kind == "prelu" else ""))

    def _check_control(self):
        """Validate ``control``, ``runtime`` and ``channels``, and store their canonical
        forms (``runtime`` as a tuple in :data:`RUNTIME_PARAMS` order, ``channels`` as an
        int, and a runtime slope's ``slope_frac``)."""
        def store(field_name, value):
            object.__setattr__(self, field_name, value)

        store("control", _check_choice(self.control, "Control", CONTROL_MODES))
        runtime = self.runtime
        if runtime is None:
            runtime = ()
        if isinstance(runtime, str):
            runtime = [r.strip() for r in runtime.split(",") if r.strip()]
        if not isinstance(runtime, (list, tuple)) or not all(isinstance(r, str)
                                                              for r in runtime):
            raise TypeError(f"Runtime parameters must be a list of names or a comma-separated "
                            f"string, not {self.runtime!r}")
        for r in runtime:
            if r not in RUNTIME_PARAMS:
                raise ValueError(f"Runtime parameters must be among "
                                 f"{', '.join(map(repr, RUNTIME_PARAMS))}, not {r!r}")
        if len(set(runtime)) != len(runtime):
            raise ValueError(f"Runtime parameters must each be named once, not "
                             f"{', '.join(runtime)}")
        store("runtime", tuple(r for r in RUNTIME_PARAMS if r in runtime))
        if self.runtime and self.control == "none":
            raise ValueError(f"Runtime parameters ({', '.join(self.runtime)}) are registers: "
                             f"they need control 'axi-lite', not 'none'")
        needs = {"slope": ("leaky_relu", "prelu"), "threshold": ("thresholded_relu",),
                 "max_value": None}
        for r in self.runtime:
            if needs[r] is not None and self.kind not in needs[r]:
                raise ValueError(f"Runtime {r} applies to kind {' or '.join(needs[r])} only, "
                                 f"not {self.kind!r}")
        if "max_value" in self.runtime and self.max_value is None:
            raise ValueError("Runtime max_value needs a max_value to start from (its reset "
                             "value)")
        if self.control != "none" and self.lanes > MAX_CONTROL_LANES:
            raise ValueError(f"Control {self.control!r} supports up to {MAX_CONTROL_LANES} "
                             f"lanes (one ALIVE register holds a bit per lane), not "
                             f"{self.lanes}")
        if "slope" in self.runtime:
            if self.slope_impl not in ("auto", "multiplier"):
                raise ValueError(f"A runtime slope is a multiplier: slope_impl must be 'auto' "
                                 f"or 'multiplier', not {self.slope_impl!r}")
            if self.slope_frac is None:
                store("slope_frac", RUNTIME_SLOPE_FRAC)
            limit = REGISTER_BITS - RUNTIME_SLOPE_INT_BITS
            if self.slope_frac > limit:
                raise ValueError(f"A runtime slope's fractional bits (slope_frac) must be at "
                                 f"most {limit}, to fit a {REGISTER_BITS}-bit register, not "
                                 f"{self.slope_frac}")
        if "threshold" in self.runtime and self.width >= REGISTER_BITS:
            raise ValueError(f"A runtime threshold is a register of width + 1 bits: the input "
                             f"width must be at most {REGISTER_BITS - 1}, not {self.width}")
        if self.channels is None:
            store("channels", self.lanes)
        else:
            if self.kind != "prelu":
                raise ValueError(f"channels applies to kind prelu only, not {self.kind!r}")
            channels = _check_int(self.channels, "Channel count", 1, MAX_CHANNELS)
            if channels % self.lanes:
                raise ValueError(f"Channel count must be a multiple of the lane count "
                                 f"({self.lanes}), not {channels}")
            store("channels", channels)

    def _check_table_kind(self, consts):
        if self.control != "none":
            raise ValueError(f"Kind {self.kind!r} takes control 'none' only: its table holds "
                             f"the build-time constants, and its telemetry events are not "
                             f"built yet")
        if self.width > MAX_TABLE_WIDTH:
            raise ValueError(f"Kind {self.kind!r} takes input widths up to {MAX_TABLE_WIDTH} "
                             f"bits (its table has an entry per negative input code at most), "
                             f"not {self.width}")
        if self.signed and not self.out_signed and self.overflow == "wrap":
            raise ValueError(f"Overflow 'wrap' into an unsigned output would turn every "
                             f"negative value of {self.kind!r} into a large positive code; use "
                             f"a signed output, or a saturate mode (negative values become 0)")
        if self.kind == "selu":
            consts["alpha"] = Fraction(SELU_ALPHA)
            scale = Fraction(SELU_SCALE)
            k = exact_scale_frac(scale, self.input_format, self.out_frac)
            consts["scale"] = Quantized(scale, round(scale * (1 << k)), k)
        else:
            alpha = parse_constant(DEFAULT_ALPHA if self.alpha is None else self.alpha, "alpha")
            if not ALPHA_MIN <= alpha < ALPHA_LIMIT:
                raise ValueError(f"alpha must be from 2^-16 to below 2^16, not {self.alpha!r}")
            consts["alpha"] = alpha

    def _slope(self, text, name):
        s = parse_constant(text, name)
        if abs(s) >= SLOPE_LIMIT:
            raise ValueError(f"{name} must be greater than -{SLOPE_LIMIT} and less than "
                             f"{SLOPE_LIMIT}, not {text!r}")
        q = quantize_slope(s, self.slope_frac, name)
        if abs(q.value) >= SLOPE_LIMIT:
            raise ValueError(f"{name} {text} quantizes to {q.value}, which reaches "
                             f"{SLOPE_LIMIT}; slopes must stay below it in magnitude")
        if q.code == 0 and s != 0:
            keeps = next((f for f in range(MAX_SLOPE_FRAC + 1)
                          if round(s * (1 << f)) != 0), None)
            hint = (f"slope_frac {keeps} is the fewest that keeps it" if keeps is not None
                    else f"no slope_frac up to {MAX_SLOPE_FRAC} keeps it")
            raise ValueError(f"{name} {text} quantizes to 0 with slope_frac {self.slope_frac}, "
                             f"which loses the slope; {hint}")
        if self.slope_impl == "shift" and q.code != 0 and not q.is_power_of_two:
            raise ValueError(f"slope_impl 'shift' needs a power-of-two slope; {name.lower()} "
                             f"{text} quantizes to {q.value}, which is not one")
        return q

    # Formats ---------------------------------------------------------------------------------

    @cached_property
    def input_format(self):
        return FixedFormat(self.width, self.frac, self.signed)

    @cached_property
    def output_format(self):
        return FixedFormat(self.out_width, self.out_frac, self.out_signed)

    @property
    def output_range(self):
        """``(lo, hi)``: the output codes that ``overflow`` may produce; a result that rounds
        outside them saturates to the nearer one, or becomes zero with ``saturate_zero``
        (``wrap`` wraps over the whole format)."""
        fmt = self.output_format
        lo = fmt.min_code
        if self.overflow == "saturate_symmetric":
            lo = max(lo, -fmt.max_code)
        return lo, fmt.max_code

    # Quantized constants -----------------------------------------------------------------------

    @property
    def lane_slopes(self):
        """Per-lane :class:`Quantized` slopes (``leaky_relu``, ``prelu``), else ``None``.

        With more channels than lanes, each lane's slope depends on the beat's place in its
        frame: these are then the slopes of channel group 0 (see :attr:`channel_slopes`)."""
        slopes = self._consts["slopes"]
        return slopes if slopes is None else slopes[:self.lanes]

    @property
    def channel_slopes(self):
        """Per-channel :class:`Quantized` slopes (``prelu``; per lane for ``leaky_relu``),
        else ``None``: channel ``c`` is lane ``c % lanes`` of the beats whose place in their
        frame is ``c // lanes`` modulo :attr:`channel_groups`."""
        return self._consts["slopes"]

    @property
    def channel_groups(self):
        """How many beats take one slope for each channel: ``channels // lanes``."""
        return self.channels // self.lanes

    @property
    def runtime_slope_range(self):
        """``(lo, hi)``: the codes a runtime slope register holds (``slope_frac`` fractional
        bits), or ``None`` without a runtime slope."""
        if "slope" not in self.runtime:
            return None
        bits = RUNTIME_SLOPE_INT_BITS + self.slope_frac
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    @property
    def variable_slopes(self):
        """Whether slopes reach the datapath as values rather than constants: a runtime
        slope, or per-channel slopes with more channels than lanes."""
        return "slope" in self.runtime or self.channels != self.lanes

    @property
    def threshold_q(self):
        """:class:`Quantized` threshold on the input grid (``thresholded_relu``), else ``None``."""
        return self._consts["threshold"]

    @property
    def alpha_value(self):
        """The exact ``alpha`` of a table kind (:data:`SELU_ALPHA` for ``selu``), else
        ``None``."""
        return self._consts["alpha"]

    @property
    def scale_q(self):
        """``selu``'s scale on the positive side as a :class:`Quantized` constant with enough
        fractional bits that every input code rounds as with the exact scale (see
        :func:`exact_scale_frac`), else ``None``."""
        return self._consts["scale"]

    @property
    def exponential(self):
        """``(a, d)``, exact, such that a table kind's negative side is
        ``a * (exp(x / d) - 1)``; ``None`` for other kinds."""
        if self.kind not in TABLE_KINDS:
            return None
        alpha = self.alpha_value
        if self.kind == "selu":
            return Fraction(SELU_SCALE) * alpha, Fraction(1)
        return alpha, alpha if self.kind == "celu" else Fraction(1)

    @property
    def max_value_q(self):
        """:class:`Quantized` clip on the output grid, or ``None``."""
        return self._consts["max_value"]

    def slope_impl_of(self, q):
        """How a quantized slope is built: ``zero``, ``shift``, ``shift_add`` or ``multiplier``."""
        if q.code == 0:
            return "zero"
        if q.is_power_of_two:
            return "shift"
        if self.slope_impl == "auto":
            digits = len(csd_digits(abs(q.code)))
            return "shift_add" if digits <= AUTO_SHIFT_ADD_DIGITS else "multiplier"
        return self.slope_impl

    @property
    def zero_by_reset(self):
        """Whether outputs forced to a constant use the flip-flops' synchronous reset (see
        :data:`ZEROING_MODES`) rather than logic."""
        if self.zeroing == "auto":
            return self.ready == "combinational"
        return self.zeroing == "reset"

    @property
    def latency(self):
        """Cycles from an accepted input beat to its output beat, with the sink ready."""
        return self.stages

    # Serialisation ------------------------------------------------------------------------------

    def options(self):
        """The parameters as given (after defaults), as a dict of plain values."""
        return {
            "kind": self.kind, "width": self.width, "frac": self.frac,
            "out_width": self.out_width, "out_frac": self.out_frac, "signed": self.signed,
            "out_signed": self.out_signed, "slope": self.slope,
            "slopes": None if self.slopes is None else list(self.slopes),
            "slope_frac": self.slope_frac, "slope_impl": self.slope_impl,
            "threshold": self.threshold, "alpha": self.alpha, "max_value": self.max_value,
            "rounding": self.rounding, "overflow": self.overflow, "lanes": self.lanes,
            "stages": self.stages, "ready": self.ready, "zeroing": self.zeroing,
            "user_width": self.user_width,
            "name": self.name,
            # Options added later appear only when they differ from their defaults, so that
            # the options (and every record made from them) of earlier blocks stay the same.
            **({"control": self.control} if self.control != "none" else {}),
            **({"runtime": list(self.runtime)} if self.runtime else {}),
            **({"channels": self.channels} if self.channels != self.lanes else {}),
        }

    def constants(self):
        """Requested and quantized constants with their errors, for reports."""
        out = {}
        if self.lane_slopes is not None:
            out["slopes"] = [dict(q.as_dict(), impl=self.slope_impl_of(q))
                             for q in self.lane_slopes]
        if self.threshold_q is not None:
            out["threshold"] = self.threshold_q.as_dict()
        if self.alpha_value is not None:
            out["alpha"] = str(self.alpha_value)
        if self.scale_q is not None:
            out["scale"] = self.scale_q.as_dict()
        if self.max_value_q is not None:
            out["max_value"] = self.max_value_q.as_dict()
        return out
