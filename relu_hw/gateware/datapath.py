# SPDX-License-Identifier: Apache-2.0
"""The combinational lane datapath: a sign-bit (or comparator) multiplexer between two branches,
each converted to the output format; for the table kinds (ELU, SELU, CELU) the negative branch
is a read-only memory of correctly rounded output codes and a comparator against its bound.

Every intermediate value travels with the exact range of integers it can take (a
:class:`Bounded`), so the datapath is sized from the spec and emits saturation or clip logic
only where a value can actually leave its range. Rounding is implemented here as
"add a bias, then shift right"; the golden model implements it independently.
"""

from amaranth.hdl import Cat, Const, Mux, Signal, Value, signed, unsigned
from amaranth.lib.memory import Memory

from ..spec import ROUNDING_MODES, TABLE_KINDS, csd_digits, round_quotient
from ..table import table

__all__ = ["Bounded", "LaneDatapath", "choose", "format_shape", "slope_operand", "EVENT_FLAGS",
           "runtime_shapes"]

#: The events :meth:`LaneDatapath.finish` reports per lane when asked: the input was negative,
#: the output is zero, the clip lowered the rounded value to max_value, overflow saturated it
#: at the top or the bottom of the output range.
EVENT_FLAGS = ("negative", "zero", "clip", "sat_high", "sat_low")


def format_shape(fmt):
    """The Amaranth shape of a code of :class:`~relu_hw.spec.FixedFormat` ``fmt``."""
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


def _shape_for(lo, hi):
    """The narrowest shape holding every integer in ``[lo, hi]``."""
    if lo >= 0:
        return unsigned(max(hi.bit_length(), 1))
    return signed(max(lo.bit_length(), hi.bit_length()) + 1)


def slope_operand(spec):
    """How a slope reaches the datapath as a value (a runtime slope, or per-channel slopes
    with more channels than lanes): ``(shape, frac, lo, hi)``, the codes lying in
    ``[lo, hi]`` with ``frac`` fractional bits; ``None`` when slopes are constants."""
    if not spec.variable_slopes:
        return None
    if "slope" in spec.runtime:
        lo, hi = spec.runtime_slope_range
        return signed((hi - lo).bit_length()), spec.slope_frac, lo, hi
    frac = max(q.frac for q in spec.channel_slopes)
    codes = [q.code << (frac - q.frac) for q in spec.channel_slopes]
    lo, hi = min(codes), max(codes)
    return _shape_for(lo, hi), frac, lo, hi


def _above(b, limit, limit_lo=None):
    """1 where ``b`` (a :class:`Bounded`) is above ``limit`` (an int, or a value no smaller
    than ``limit_lo``): a comparator, or a constant where the ranges settle it."""
    if isinstance(limit, int):
        return 0 if b.hi <= limit else 1 if b.lo > limit else b.value > limit
    return 0 if b.hi <= limit_lo else b.value > limit


def choose(cond, a, b, shape, by_reset):
    """``a`` where ``cond``, else ``b`` (values or integers), as ``shape``, which holds both.

    With ``by_reset`` a multiplexer: where a branch is constant, in whole or in some bits,
    synthesis maps it onto the synchronous reset (or set) of a register it feeds. Otherwise
    masks in logic, which synthesis keeps as logic: where the flip-flops' reset overrides their
    enable (ECP5, Xilinx), a reset that must wait for the enable costs a LUT from the enable to
    every reset pin. Nor does Yosys merge masks with a register's hold multiplexer of the same
    function, which would take the register's clock enable away."""
    def cast(v):
        return Const(v, shape) if isinstance(v, int) else _resize(Value.cast(v), shape)
    if by_reset:
        return Mux(cond, cast(a), cast(b))
    mask = cond.as_signed()         # 1 bit, signed: extends to all ones or all zeros
    terms = [cast(v).as_unsigned() & m for v, m in ((a, mask), (b, ~mask))
             if not (isinstance(v, int) and v == 0)]
    picked = (terms[0] | terms[1] if len(terms) == 2 else terms[0])[:shape.width]
    return picked.as_signed() if shape.signed else picked


class Bounded:
    """An Amaranth value with the integers it can take: ``lo <= value <= hi``."""

    def __init__(self, value, lo, hi):
        assert lo <= hi
        self.lo, self.hi = lo, hi
        self.value = _resize(Value.cast(value), _shape_for(lo, hi))

    @classmethod
    def const(cls, n):
        return cls(Const(n, _shape_for(n, n)), n, n)

    def as_shape(self, shape):
        """The value as ``shape``, which must hold ``[lo, hi]``."""
        return _resize(self.value, shape)

    @property
    def is_const(self):
        return self.lo == self.hi

    def shift_left(self, k):
        return Bounded(self.value << k, self.lo << k, self.hi << k)

    def round_shift(self, k, mode):
        """Divide by ``2**k`` and round to an integer with ``mode``."""
        if k <= 0:
            return self.shift_left(-k)
        if self.is_const:
            return Bounded.const(round_quotient(self.lo, k, mode))
        # Bias and shift: the shift floors, so the bias carries the rule. A nearest rule adds
        # half - 1, which sends ties down, plus one where the rule sends a tie up; a directed
        # rule adds 2**k - 1 where the rule goes up, which lifts any remainder.
        rule = ROUNDING_MODES[mode]
        # The sign only matters when the value can be negative: a branch known non-negative
        # gets a constant bias.
        negative = self.value[-1] if self.lo < 0 else None
        goes_up = {
            "down": 0,
            "up": 1,
            "zero": 0 if negative is None else negative,
            "away": 1 if negative is None else ~negative,
            "even": self.value[k] if self.value.shape().width > k else 0,
        }[rule.toward]
        if rule.nearest:
            bias = (1 << (k - 1)) - 1 + goes_up
        elif isinstance(goes_up, int):
            bias = ((1 << k) - 1) * goes_up
        else:
            bias = Mux(goes_up, (1 << k) - 1, 0)
        bias = Const(bias) if isinstance(bias, int) else bias
        total = self.value + bias
        return Bounded(total >> k, round_quotient(self.lo, k, mode),
                       round_quotient(self.hi, k, mode))

    def multiply(self, n, impl, module=None, name="partial"):
        """Multiply by the integer constant ``n`` with ``impl`` (``shift``, ``shift_add``,
        ``multiplier``).

        Given ``module``, each partial sum of a shift-and-add is a ``keep`` signal of it (named
        ``name`` and an index), as narrow as its range, so that synthesis builds the chain of
        adders the digits describe (carry chains) instead of merging it into one multi-operand
        adder in LUTs."""
        def scaled(c):          # the range of self * c
            return sorted((self.lo * c, self.hi * c))
        lo, hi = scaled(n)
        if impl == "multiplier":
            return Bounded(self.value * Const(n), lo, hi)
        digits = csd_digits(abs(n))
        if n < 0:
            digits = [(-sign, shift) for sign, shift in digits]
        assert impl == "shift_add" or len(digits) == 1, impl
        total, coefficient = None, 0
        for i, (sign, shift) in enumerate(digits):
            term = self.value << shift
            coefficient += sign << shift
            if total is None:
                total = term if sign > 0 else -term
                continue
            total = total + term if sign > 0 else total - term
            if module is not None and i < len(digits) - 1:
                shape = _shape_for(*scaled(coefficient))
                partial = Signal(shape, name=f"{name}{i}", attrs={"keep": 1})
                module.d.comb += partial.eq(total)
                total = partial
        return Bounded(total, lo, hi)

    def clip_above(self, limit, by_reset=True):
        """``min(self, limit)``; ``by_reset`` as for :func:`choose`."""
        if self.hi <= limit:
            return self
        if self.lo >= limit:
            return Bounded.const(limit)
        shape = _shape_for(self.lo, limit)
        return Bounded(choose(self.value <= limit, self.value, limit, shape, by_reset),
                       self.lo, limit)

    def clip_above_value(self, limit, limit_lo, limit_hi, by_reset=True):
        """``min(self, limit)`` for a value ``limit`` in ``[limit_lo, limit_hi]``; ``by_reset``
        as for :func:`choose`."""
        if self.hi <= limit_lo:
            return self
        lo, hi = min(self.lo, limit_lo), min(self.hi, limit_hi)
        shape = _shape_for(lo, hi)
        # Where limit is chosen it lies below self, so within [lo, hi]: narrowing it is safe.
        return Bounded(choose(self.value <= limit, self.value, limit, shape, by_reset), lo, hi)

    def times(self, other):
        """``self * other`` for a :class:`Bounded` value ``other``: a multiplier."""
        corners = [a * b for a in (self.lo, self.hi) for b in (other.lo, other.hi)]
        return Bounded(self.value * other.value, min(corners), max(corners))

    def clip_below(self, limit, by_reset=True):
        """``max(self, limit)``; ``by_reset`` as for :func:`choose`."""
        if self.lo >= limit:
            return self
        if self.hi <= limit:
            return Bounded.const(limit)
        shape = _shape_for(limit, self.hi)
        return Bounded(choose(self.value >= limit, self.value, limit, shape, by_reset),
                       limit, self.hi)

    def wrap(self, width, is_signed=True):
        """Keep the low ``width`` bits, as a signed number or an unsigned one."""
        if is_signed:
            lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        else:
            lo, hi = 0, (1 << width) - 1
        if lo <= self.lo and self.hi <= hi:
            return self
        value = self.value
        if value.shape().width < width:
            # Only a negative value into an unsigned format: extend it before taking bits.
            value = _resize(value, signed(width))
        bits = value[:width]
        return Bounded(bits.as_signed() if is_signed else bits, lo, hi)

    def zero_outside(self, lo, hi, by_reset=True):
        """``self`` where it lies in ``[lo, hi]`` (which holds 0), else 0; ``by_reset`` as
        for :func:`choose`."""
        if lo <= self.lo and self.hi <= hi:
            return self
        if self.hi < lo or self.lo > hi:
            return Bounded.const(0)
        inside = []
        if self.lo < lo:
            inside.append(self.value >= lo)
        if self.hi > hi:
            inside.append(self.value <= hi)
        cond = inside[0] if len(inside) == 1 else inside[0] & inside[1]
        new_lo, new_hi = min(max(self.lo, lo), 0), max(min(self.hi, hi), 0)
        return Bounded(choose(cond, self.value, 0, _shape_for(new_lo, new_hi), by_reset),
                       new_lo, new_hi)


def _resize(value, shape):
    """``value`` as ``shape``, extending by its own signedness or truncating; the caller
    guarantees that the number it holds fits ``shape``."""
    if value.shape() == shape:
        return value
    if value.shape().width < shape.width:
        fill = value[-1] if value.shape().signed else Const(0, 1)
        value = Cat(value, fill.replicate(shape.width - value.shape().width))
    value = value[:shape.width]
    return value.as_signed() if shape.signed else value.as_unsigned()


def runtime_shapes(spec):
    """The shapes of the runtime parameters shared by the lanes, as ``{name: shape}``:
    ``max_value`` (an unsigned code on the output grid) and ``threshold`` (a code on the
    input grid, one bit wider), those of ``spec.runtime``."""
    shapes = {}
    if "max_value" in spec.runtime:
        shapes["max_value"] = unsigned(spec.output_format.max_code.bit_length())
    if "threshold" in spec.runtime:
        shapes["threshold"] = signed(spec.width + 1)
    return shapes


class LaneDatapath:
    """Builds one lane's activation in two halves, so that a pipeline register can sit between
    them.

    :meth:`prepare` takes the input code and returns the values to register (the input itself,
    the slope product when that product is real logic, and for a table kind the table's read
    data); :meth:`finish` takes those values and returns the output code as a value of the
    output shape.

    A table kind's table is a :class:`~amaranth.lib.memory.Memory` of one word per entry, read
    combinationally at the input code minus the bound; the register after it, stage 1's, makes
    it a synchronous read that synthesis maps to block RAM or LUTs (:attr:`reads_table`: the
    pipeline then finishes after stage 1, never before). Words are stored as the table says
    (:attr:`~relu_hw.table.Table.offset`), added back after the register.

    Parameters
    ----------
    spec : Spec
    lane : int
        Which lane (``prelu`` slopes differ per lane).
    """

    def __init__(self, spec, lane):
        self._spec = spec
        self._lane = lane
        self._slope = None if spec.lane_slopes is None else spec.lane_slopes[lane]
        self._operand = slope_operand(spec)
        self._table = table(spec) if spec.kind in TABLE_KINDS else None

    @property
    def _impl(self):
        if self._operand is not None:
            return "variable"
        return None if self._slope is None else self._spec.slope_impl_of(self._slope)

    def _product_range(self):
        fmt = self._spec.input_format
        _, _, lo, hi = self._operand
        corners = [a * b for a in (fmt.min_code, -1) for b in (lo, hi)]
        return min(corners), max(corners)

    @property
    def table(self):
        """The lane's :class:`~relu_hw.table.Table` (a table kind), else ``None``."""
        return self._table

    @property
    def reads_table(self):
        """Whether this lane reads a table: a table kind with entries that are not all the
        same."""
        return self._table is not None and self._table.bits > 0 and len(self._table.entries) > 0

    def _read_table(self, x, module):
        t = self._table
        shape = signed(t.bits) if t.signed_words else unsigned(t.bits)
        if module is None:
            return Const(0, shape)
        memory = Memory(shape=shape, depth=len(t.words), init=t.words)
        module.submodules[f"lane{self._lane}_table"] = memory
        port = memory.read_port(domain="comb")
        address_bits = (len(t.words) - 1).bit_length()
        if address_bits:
            # Codes outside [bound, -1] read any word (or none): their result is not taken.
            module.d.comb += port.addr.eq((x - t.bound)[:address_bits])
        return port.data

    def prepare(self, x, module=None, slope=None):
        """Values that depend only on ``x`` (an input code), as ``{name: value}``; the
        partial sums of a shift-and-add, and a table, become parts of ``module`` when given.
        ``slope`` is the lane's slope as a value, where slopes are values
        (:func:`slope_operand`)."""
        values = {"x": x}
        if self.reads_table:
            values["t"] = self._read_table(x, module)
        scale = self._spec.scale_q
        if scale is not None and self._spec.slope_impl_of(scale) != "shift":
            # SELU's scale on the positive side, x >= 0.
            pos = Bounded(x, 0, self._spec.input_format.max_code)
            values["product"] = pos.multiply(scale.code, self._spec.slope_impl_of(scale),
                                             module, f"lane{self._lane}_partial").value
        # An unsigned input is never negative: it has no use for a slope product.
        if not self._spec.signed:
            pass
        elif self._impl == "variable":
            fmt = self._spec.input_format
            _, _, lo, hi = self._operand
            neg = Bounded(x, fmt.min_code, -1)
            product = neg.times(Bounded(slope, lo, hi))
            values["product"] = Bounded(product.value, *self._product_range()).value
        elif self._impl in ("shift_add", "multiplier"):
            fmt = self._spec.input_format
            # Only x < 0 uses the product; its range is that of the negative inputs.
            neg = Bounded(x, fmt.min_code, -1)
            values["product"] = neg.multiply(self._slope.code, self._impl, module,
                                             f"lane{self._lane}_partial").value
        return values

    def prepared_shapes(self):
        """Shapes of the values :meth:`prepare` returns, for pipeline registers."""
        x = Signal(format_shape(self._spec.input_format))
        slope = Signal(self._operand[0]) if self._operand is not None else None
        return {name: Value.cast(v).shape() for name, v in self.prepare(x, slope=slope).items()}

    def impossible_events(self):
        """The names of :data:`EVENT_FLAGS` that no input raises in this lane: the ones
        :meth:`finish` makes constant zeros (for instance, ReLU never saturates into an
        output format as wide as its input, and an unsigned input is never negative)."""
        x = Signal(format_shape(self._spec.input_format))
        slope = Signal(self._operand[0]) if self._operand is not None else None
        values = {name: Signal(v.shape()) for name, v in
                  ((name, Value.cast(v)) for name, v in self.prepare(x, slope=slope).items())}
        values.update({name: Signal(shape) for name, shape in
                       runtime_shapes(self._spec).items()})
        _, flags = self.finish(values, events=True)
        return {name for name, flag in flags.items()
                if isinstance(flag, Const) and flag.value == 0}

    def finish(self, values, by_reset=True, events=False):
        """The output code, in the narrowest shape that holds every code it can take (at most
        the output format's: ``signed(out_width)``, or ``unsigned(out_width)`` for an unsigned
        output).

        A constant the output is forced to (ReLU's zero, a clip or saturation limit) is a
        multiplexer, which synthesis maps onto the flip-flops' synchronous reset, when
        ``by_reset``; otherwise masks in logic (see :func:`choose`).

        Runtime parameters come in ``values`` as ``max_value`` (output grid, unsigned) and
        ``threshold`` (input grid). With ``events``, returns ``(y, flags)``: ``flags`` maps
        each of :data:`EVENT_FLAGS` to a 1-bit value."""
        spec = self._spec
        fmt_in = spec.input_format
        x = values["x"]
        self._max_value = values.get("max_value")
        self._flags = []

        if spec.kind in TABLE_KINDS:
            branches = self._table_branches(values, by_reset)
            if len(branches) == 1:
                return branches[0].value
            select = x >= 0     # positive branch when true
        elif spec.kind == "thresholded_relu" and "threshold" in values:
            t = values["threshold"]
            taken = Bounded(x, fmt_in.min_code, fmt_in.max_code)
            select = x > t
            branches = (self._convert(taken, fmt_in.frac, by_reset), Bounded.const(0))
        elif spec.kind == "thresholded_relu":
            t = spec.threshold_q.code
            taken = Bounded(x, max(t + 1, fmt_in.min_code), fmt_in.max_code) \
                if t < fmt_in.max_code else None
            select = x > t  # taken when true
            branches = (self._convert(taken, fmt_in.frac, by_reset) if taken is not None
                        else None, Bounded.const(0))
        elif not fmt_in.signed:
            # Every input is at least zero: the identity branch alone.
            identity = self._convert(Bounded(x, 0, fmt_in.max_code), fmt_in.frac, by_reset)
            select, branches = Const(1, 1), (identity, identity)
            self._flags.append(self._flags[0])
        else:
            positive = self._convert(Bounded(x, 0, fmt_in.max_code), fmt_in.frac, by_reset)
            select = ~x[-1]  # positive branch when true
            if spec.kind == "relu" or self._impl == "zero":
                negative = Bounded.const(0)
                self._flags.append({})
            elif self._impl == "variable":
                product = Bounded(values["product"], *self._product_range())
                negative = self._convert(product, fmt_in.frac + self._operand[1], by_reset)
            else:
                neg = Bounded(x, fmt_in.min_code, -1)
                if self._impl == "shift":
                    product = neg.multiply(self._slope.code, "shift")
                else:
                    product = Bounded(values["product"], *sorted(
                        (fmt_in.min_code * self._slope.code, -self._slope.code)))
                negative = self._convert(product, fmt_in.frac + self._slope.frac, by_reset)
            branches = (positive, negative)

        taken, other = branches
        y = self._select(select, taken, other, by_reset)
        if not events:
            return y
        # Each converted branch left its flags, in order (a constant branch none).
        if spec.kind == "thresholded_relu":
            taken_flags, other_flags = (self._flags[0] if taken is not None else {}), {}
        else:
            taken_flags, other_flags = self._flags[0], self._flags[1]
        flags = {"negative": x[-1] if fmt_in.signed else Const(0, 1), "zero": y == 0}
        for name in ("clip", "sat_high", "sat_low"):
            a, b = taken_flags.get(name, 0), other_flags.get(name, 0)
            flags[name] = (Const(a, 1) if isinstance(a, int) and isinstance(b, int) and a == b
                           else Mux(select, a, b))
        return y, flags

    def _select(self, select, taken, other, by_reset):
        if taken is None:
            return Bounded.const(other.lo).value
        # The result in the narrowest shape that holds both branches (a ReLU's is unsigned: no
        # flip-flop for a sign that is always zero); assigning it to the output extends it.
        shape = _shape_for(min(taken.lo, other.lo), max(taken.hi, other.hi))
        if taken.is_const and other.is_const and taken.lo == other.lo:
            return Const(taken.lo, shape)
        other = other.lo if other.is_const else other.value
        return choose(select, taken.value, other, shape, by_reset)

    def _table_branches(self, values, by_reset):
        """``(positive, negative)`` of a table kind, or ``(positive,)`` for an unsigned
        input: the linear side converted (SELU's scale multiplied), and the table's entry or,
        below its bound, its constant."""
        spec, t = self._spec, self._table
        fmt_in = spec.input_format
        x = values["x"]
        scale = spec.scale_q
        if scale is None:
            positive = self._convert(Bounded(x, 0, fmt_in.max_code), fmt_in.frac, by_reset)
        else:
            if "product" in values:
                product = Bounded(values["product"], 0, fmt_in.max_code * scale.code)
            else:
                product = Bounded(x, 0, fmt_in.max_code).multiply(scale.code, "shift")
            positive = self._convert(product, fmt_in.frac + scale.frac, by_reset)
        if not fmt_in.signed:
            return (positive,)
        if not t.entries:
            return positive, Bounded.const(t.constant)
        if not self.reads_table:
            entry = Bounded.const(t.lo)         # one value above the bound
        else:
            words = t.words
            entry = Bounded(values["t"], min(words), max(words))
            if t.offset:
                entry = Bounded(entry.value + t.offset, t.lo, t.hi)
        if t.bound <= fmt_in.min_code:
            return positive, entry
        lo, hi = min(t.lo, t.constant), max(t.hi, t.constant)
        entry = entry.lo if entry.is_const else entry.value
        below = choose(x < t.bound, t.constant, entry, _shape_for(lo, hi), by_reset)
        return positive, Bounded(below, lo, hi)

    def _convert(self, b, scale, by_reset):
        """Convert ``b / 2**scale`` to the output format: round, clip, handle overflow. Leaves
        the branch's event flags (clip, saturations) in ``self._flags``."""
        spec = self._spec
        flags = {}
        b = b.round_shift(scale - spec.out_frac, spec.rounding)
        if self._max_value is not None:
            fmt = spec.output_format
            flags["clip"] = _above(b, self._max_value, 0)
            b = b.clip_above_value(self._max_value, 0, fmt.max_code, by_reset)
        elif spec.max_value_q is not None:
            # Rounding is monotone and the clip lies on the output grid, so clipping the
            # rounded value equals rounding the clipped one.
            flags["clip"] = _above(b, spec.max_value_q.code)
            b = b.clip_above(spec.max_value_q.code, by_reset)
        lo, hi = spec.output_range
        self._flags.append(flags)
        if spec.overflow == "wrap":
            return b.wrap(spec.out_width, spec.out_signed)
        flags["sat_high"] = _above(b, hi)
        flags["sat_low"] = 0 if b.lo >= lo else 1 if b.hi < lo else b.value < lo
        if spec.overflow == "saturate_zero":
            return b.zero_outside(lo, hi, by_reset)
        return b.clip_above(hi, by_reset).clip_below(lo, by_reset)
