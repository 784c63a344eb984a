# SPDX-License-Identifier: Apache-2.0
"""The register map of a block with control: computed from the :class:`~relu_hw.spec.Spec`
here, in one place, and read by the gateware, the golden model, the simulators and every file
that describes it (JSON, SystemRDL and what PeakRDL makes of it).

Registers are 32 bits at byte offsets that are multiples of 4:

=================  ===========  ======================================================
offset             register     what
=================  ===========  ======================================================
0x000              ID           ``MAGIC`` (0x5248, "RH") and the map's ``VERSION``
0x004 .. 0x010     CONFIG0..3   kind, modes, both formats, lanes, stages, channels,
                                the slopes' fractional bits
0x020              CONTROL      ``CLEAR`` (bit 0), ``SNAPSHOT`` (bit 1): act when written
                                as 1, read as 0
0x024              STATUS       ``PENDING`` (parameter writes wait for a frame boundary),
                                ``IN_FRAME``
0x040 .. 0x048     SLOPE,       runtime parameters (those of ``Spec.runtime``)
                   MAX_VALUE,
                   THRESHOLD
0x080 .. 0x088     FRAMES,      telemetry: output frames and beats, a sticky bit per lane
                   BEATS, ALIVE
0x100 + 0x80 * j   NEGATIVES{k} per lane ``k`` at ``+ 4 * k``: NEGATIVES, ZEROS, CLIPS (with
                   ...          a max_value), SAT_HIGH and SAT_LOW (with a saturating
                                overflow mode)
0x8000 + 4 * w     SLOPE{c}     ``prelu`` runtime slopes, channel ``c`` at word
                                ``w = (c // lanes) * L + c % lanes``, with ``L`` the lane
                                count rounded up to a power of two (contiguous when the lane
                                count is one)
=================  ===========  ======================================================

Telemetry registers read a shadow that ``SNAPSHOT`` fills, so that one read of every counter
is consistent. Counters are 32 bits and saturate at ``2**32 - 1``.
"""

from dataclasses import dataclass, field
from fractions import Fraction

from .spec import KINDS, OVERFLOW_MODES, READY_MODES, REGISTER_BITS, ROUNDING_MODES, Spec

__all__ = ["Field", "Register", "RegisterMap", "MAGIC", "VERSION", "COUNTERS",
           "SLOPE_MEMORY_BASE"]

#: ``ID.MAGIC``: "RH", for relu-hw.
MAGIC = 0x5248
#: ``ID.VERSION``: the register map's version, raised when an offset or a field changes.
VERSION = 1
#: Per-lane counters, the byte offset of lane 0's, and what each counts (at output beats).
COUNTERS = {
    "NEGATIVES": (0x100, "output beats whose input in this lane was below zero"),
    "ZEROS": (0x180, "output beats whose output in this lane was zero (sparsity)"),
    "CLIPS": (0x200, "output beats whose value in this lane, rounded to the output grid, was "
                     "above max_value, so that the clip set it to max_value"),
    "SAT_HIGH": (0x280, "output beats whose value in this lane, rounded and clipped, was above "
                        "the output format's largest code, so that overflow saturated it"),
    "SAT_LOW": (0x300, "output beats whose value in this lane, rounded and clipped, was below "
                       "the output format's smallest code (its negated largest with "
                       "saturate_symmetric), so that overflow saturated it"),
}
#: Byte offset of ``SLOPE0`` (``prelu`` runtime slopes).
SLOPE_MEMORY_BASE = 0x8000
_PARAMS = {"slope": ("SLOPE", 0x040), "max_value": ("MAX_VALUE", 0x044),
           "threshold": ("THRESHOLD", 0x048)}


@dataclass(frozen=True)
class Field:
    """Bits ``[lsb, lsb + width)`` of a register. ``signed`` and ``frac`` describe a
    fixed-point field (its code stands for ``code / 2**frac``); ``values`` names the codes of
    an enumerated one."""
    name: str
    lsb: int
    width: int
    reset: int
    description: str
    signed: bool | None = None
    frac: int | None = None
    values: dict | None = None

    @property
    def mask(self):
        return ((1 << self.width) - 1) << self.lsb

    def code(self, bits):
        """The field's code in register value ``bits`` (signed fields read as two's
        complement)."""
        raw = (bits >> self.lsb) & ((1 << self.width) - 1)
        if self.signed and raw >> (self.width - 1):
            raw -= 1 << self.width
        return raw

    def bits(self, code):
        """The register bits that hold ``code`` in this field; :exc:`ValueError` if it does not
        fit."""
        lo = -(1 << (self.width - 1)) if self.signed else 0
        hi = (1 << (self.width - (1 if self.signed else 0))) - 1
        if not lo <= code <= hi:
            raise ValueError(f"Field {self.name} holds codes from {lo} to {hi}, not {code}")
        return (code & ((1 << self.width) - 1)) << self.lsb

    def as_dict(self):
        out = {"name": self.name, "lsb": self.lsb, "width": self.width, "reset": self.reset,
               "description": self.description}
        if self.signed is not None:
            out["signed"] = self.signed
            out["frac"] = self.frac
            out["reset_value"] = str(Fraction(self.code(self.reset << self.lsb),
                                              1 << self.frac))
        if self.values is not None:
            out["values"] = dict(self.values)
        return out


@dataclass(frozen=True)
class Register:
    """A 32-bit register at byte ``offset``.

    ``access`` is ``"ro"`` (writes are ignored and answer SLVERR) or ``"rw"``. ``kind`` says
    what the gateware makes of it: ``const``, ``control`` (pulses), ``status``, ``param`` (a
    runtime parameter: shadow and active copies), ``slope`` (one of the per-channel runtime
    slopes), ``counter`` or ``alive`` (telemetry, read from the snapshot). ``index`` is the
    lane or channel of a register of a family (``NEGATIVES3``: lane 3)."""
    name: str
    offset: int
    access: str
    kind: str
    description: str
    fields: tuple = field(default_factory=tuple)
    index: int | None = None

    @property
    def reset(self):
        return sum(f.reset << f.lsb for f in self.fields)

    @property
    def word(self):
        return self.offset // 4

    def as_dict(self):
        return {"name": self.name, "offset": self.offset, "access": self.access,
                "reset": self.reset, "description": self.description,
                "fields": [f.as_dict() for f in self.fields]}


def _enum(choices):
    return {name: code for code, name in enumerate(choices)}


class RegisterMap:
    """The registers of ``spec`` (which must have control ``axi-lite``), in offset order.

    Attributes
    ----------
    registers : list of Register
    address_width : int
        Bits of the AXI4-Lite addresses: 16 with per-channel runtime slopes, else 12.
    """

    def __init__(self, spec):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        if spec.control == "none":
            raise ValueError("A block with control 'none' has no registers")
        self._spec = spec
        regs = [self._id(), *self._config(), self._control(), self._status()]
        regs += self._params()
        regs += self._telemetry()
        regs += self._slopes()
        self.registers = sorted(regs, key=lambda r: r.offset)
        self._by_name = {r.name: r for r in self.registers}
        assert len(self._by_name) == len(self.registers)
        assert len({r.offset for r in self.registers}) == len(self.registers)
        self.address_width = 16 if self.slope_lanes_stride else 12
        assert all(r.offset < 1 << self.address_width for r in self.registers)

    @property
    def spec(self):
        return self._spec

    def __getitem__(self, name):
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"The register map of {self._spec.name} has no register "
                           f"{name!r}") from None

    def __contains__(self, name):
        return name in self._by_name

    def __iter__(self):
        return iter(self.registers)

    # The registers ---------------------------------------------------------------------------

    def _id(self):
        return Register("ID", 0x000, "ro", "const", "Identifies a relu-hw block and the "
                        "version of its register map.", (
                            Field("VERSION", 0, 16, VERSION, "Register map version."),
                            Field("MAGIC", 16, 16, MAGIC, "0x5248 ('RH'): a relu-hw block.")))

    def _config(self):
        s = self._spec
        slopes = s.channel_slopes
        if "slope" in s.runtime:
            slope_frac = s.slope_frac
        else:
            slope_frac = max((q.frac for q in slopes), default=0) if slopes else 0
        enum = {"KIND": _enum(KINDS), "ROUNDING": _enum(ROUNDING_MODES),
                "OVERFLOW": _enum(OVERFLOW_MODES), "READY": _enum(READY_MODES)}
        flag = {"HAS_MAX_VALUE": s.max_value_q is not None,
                "RUNTIME_SLOPE": "slope" in s.runtime,
                "RUNTIME_MAX_VALUE": "max_value" in s.runtime,
                "RUNTIME_THRESHOLD": "threshold" in s.runtime}
        words = [
            ("CONFIG0", "Kind, modes, and which constants are registers.", [
                Field("KIND", 0, 4, enum["KIND"][s.kind], "Activation kind.",
                      values=enum["KIND"]),
                Field("ROUNDING", 4, 4, enum["ROUNDING"][s.rounding], "Rounding mode.",
                      values=enum["ROUNDING"]),
                Field("OVERFLOW", 8, 2, enum["OVERFLOW"][s.overflow], "Overflow mode.",
                      values=enum["OVERFLOW"]),
                Field("READY", 12, 1, enum["READY"][s.ready], "How input ready is made.",
                      values=enum["READY"]),
                Field("HAS_MAX_VALUE", 16, 1, int(flag["HAS_MAX_VALUE"]),
                      "1 when outputs are clipped at max_value."),
                Field("RUNTIME_SLOPE", 20, 1, int(flag["RUNTIME_SLOPE"]),
                      "1 when the slopes are registers."),
                Field("RUNTIME_MAX_VALUE", 21, 1, int(flag["RUNTIME_MAX_VALUE"]),
                      "1 when max_value is a register."),
                Field("RUNTIME_THRESHOLD", 22, 1, int(flag["RUNTIME_THRESHOLD"]),
                      "1 when the threshold is a register.")]),
            ("CONFIG1", "Input and output fixed-point formats.", [
                Field("IN_WIDTH", 0, 6, s.width, "Input width in bits."),
                Field("IN_SIGNED", 7, 1, int(s.signed),
                      "1 when inputs are two's complement, 0 when unsigned."),
                Field("IN_FRAC", 8, 6, s.frac, "Input fractional bits."),
                Field("OUT_WIDTH", 16, 6, s.out_width, "Output width in bits."),
                Field("OUT_SIGNED", 23, 1, int(s.out_signed),
                      "1 when outputs are two's complement, 0 when unsigned."),
                Field("OUT_FRAC", 24, 6, s.out_frac, "Output fractional bits.")]),
            ("CONFIG2", "Shape of the stream.", [
                Field("LANES", 0, 9, s.lanes, "Lanes per beat."),
                Field("STAGES", 16, 5, s.stages, "Register stages (latency in cycles)."),
                Field("USER_WIDTH", 24, 7, s.user_width, "TUSER width.")]),
            ("CONFIG3", "Channels and slopes.", [
                Field("CHANNELS", 0, 13, s.channels if s.kind == "prelu" else 0,
                      "PReLU channels (one slope each); 0 for other kinds."),
                Field("SLOPE_FRAC", 16, 6, slope_frac,
                      "Fractional bits of the slopes (of the SLOPE registers when they are "
                      "registers).")]),
        ]
        return [Register(name, 0x004 + 4 * i, "ro", "const", desc, tuple(fields))
                for i, (name, desc, fields) in enumerate(words)]

    def _control(self):
        return Register("CONTROL", 0x020, "rw", "control", "Counter control. Both bits act "
                        "when written as 1 and read as 0; written together, the snapshot "
                        "takes the counters as they were before the clear.", (
                            Field("CLEAR", 0, 1, 0, "Clear every counter and ALIVE."),
                            Field("SNAPSHOT", 1, 1, 0, "Copy every counter and ALIVE into "
                                                       "its shadow, which reads return.")))

    def _status(self):
        return Register("STATUS", 0x024, "ro", "status", "Where parameter writes stand.", (
            Field("PENDING", 0, 1, 0, "1 while written parameters wait for a frame boundary "
                                      "(or are being copied into the active slope memory)."),
            Field("IN_FRAME", 1, 1, 0, "1 when the last accepted input beat did not carry "
                                       "TLAST: the stream is inside a frame.")))

    def param_field(self, param):
        """The :class:`Field` of runtime parameter ``param`` (``slope``, ``max_value``,
        ``threshold``) with its reset code, whether or not it is a register."""
        s = self._spec
        if param == "slope":
            lo, hi = s.runtime_slope_range
            width = (hi - lo).bit_length()
            q = s.channel_slopes[0]
            code = q.code << (s.slope_frac - q.frac)
            return Field("VALUE", 0, width, code & ((1 << width) - 1),
                         "Slope for negative inputs.", signed=True, frac=s.slope_frac)
        if param == "max_value":
            return Field("VALUE", 0, s.output_format.max_code.bit_length(), s.max_value_q.code,
                         "Clip from above, on the output grid.", signed=False,
                         frac=s.out_frac)
        if param == "threshold":
            width = s.width + 1
            return Field("VALUE", 0, width, s.threshold_q.code & ((1 << width) - 1),
                         "Outputs are taken where the input is above this value.",
                         signed=True, frac=s.frac)
        raise ValueError(f"Runtime parameters are {', '.join(_PARAMS)}, not {param!r}")

    def _params(self):
        s = self._spec
        out = []
        for param in s.runtime:
            if param == "slope" and s.kind == "prelu":
                continue        # SLOPE{c}, below
            name, offset = _PARAMS[param]
            out.append(Register(name, offset, "rw", "param",
                                f"Runtime {param}; a write takes effect at the next frame "
                                f"boundary (at once between frames).",
                                (self.param_field(param),)))
        return out

    def _telemetry(self):
        s = self._spec
        count = (Field("COUNT", 0, REGISTER_BITS, 0, "Events; saturates at 2^32 - 1."),)
        out = [
            Register("FRAMES", 0x080, "ro", "counter", "Output beats with TLAST (as of the "
                     "last snapshot).", count),
            Register("BEATS", 0x084, "ro", "counter", "Output beats (as of the last "
                     "snapshot).", count),
            Register("ALIVE", 0x088, "ro", "alive", "Bit k is 1 when lane k has put out a "
                     "non-zero value since the last clear (as of the last snapshot); a lane "
                     "not alive after a window is a dead unit.",
                     tuple(Field(f"LANE{k}", k, 1, 0, f"Lane {k} alive.")
                           for k in range(s.lanes))),
        ]
        for name, (base, what) in COUNTERS.items():
            if name == "CLIPS" and s.max_value_q is None:
                continue
            if name.startswith("SAT_") and s.overflow == "wrap":
                continue
            out += [Register(f"{name}{k}", base + 4 * k, "ro", "counter",
                             f"Lane {k}: {what} (as of the last snapshot).", count, index=k)
                    for k in range(s.lanes)]
        return out

    @property
    def slope_lanes_stride(self):
        """Words between channel groups of ``SLOPE{c}``: the lane count rounded up to a power
        of two; 0 without per-channel runtime slopes."""
        s = self._spec
        if not ("slope" in s.runtime and s.kind == "prelu"):
            return 0
        return 1 << (s.lanes - 1).bit_length()

    def slope_offset(self, channel):
        """Byte offset of ``SLOPE{channel}``."""
        stride = self.slope_lanes_stride
        lanes = self._spec.lanes
        return SLOPE_MEMORY_BASE + 4 * ((channel // lanes) * stride + channel % lanes)

    def _slopes(self):
        s = self._spec
        if not self.slope_lanes_stride:
            return []
        lo, hi = s.runtime_slope_range
        width = (hi - lo).bit_length()
        out = []
        for c, q in enumerate(s.channel_slopes):
            code = q.code << (s.slope_frac - q.frac)
            out.append(Register(
                f"SLOPE{c}", self.slope_offset(c), "rw", "slope",
                f"Runtime slope of channel {c} (lane {c % s.lanes} of the beats at place "
                f"{c // s.lanes} of each {s.channel_groups} in a frame); a write takes effect "
                f"at the next frame boundary (at once between frames).",
                (Field("VALUE", 0, width, code & ((1 << width) - 1), "Slope for negative "
                       "inputs.", signed=True, frac=s.slope_frac),), index=c))
        return out

    # Descriptions ----------------------------------------------------------------------------

    def as_dict(self):
        """The map as a JSON-ready dict (what ``<name>.regmap.json`` holds)."""
        s = self._spec
        return {
            "name": s.name, "interface": "axi4-lite", "data_width": REGISTER_BITS,
            "address_width": self.address_width, "version": VERSION,
            "errors": "SLVERR for an unmapped address and for a write to a read-only "
                      "register (which is ignored)",
            "registers": [r.as_dict() for r in self.registers],
        }

    def systemrdl(self):
        """The map in SystemRDL 2.0, as text (compiled and exported by :mod:`relu_hw.regdocs`).

        Fixed-point fields carry the user-defined properties ``is_signed`` and ``fracwidth``
        (PeakRDL's names), declared at the top of the file."""
        s = self._spec
        lines = [
            "// SPDX-License-Identifier: Apache-2.0",
            f"// Register map of {s.name}, generated by relu-hw from its configuration.",
            "property is_signed { type = boolean; component = field; };",
            "property fracwidth { type = longint unsigned; component = field; };",
            "",
        ]
        enums = {}
        for r in self.registers:
            for f in r.fields:
                if f.values is not None:
                    enums[f"{f.name.lower()}_e"] = f.values
        for name, values in enums.items():
            lines.append(f"enum {name} {{")
            lines += [f"    {v} = {code};" for v, code in values.items()]
            lines.append("};")
        lines += ["", f"addrmap {s.name} {{", f'    name = "{s.name}";',
                  f'    desc = "{_rdl_text(_summary(s))}";', "    default regwidth = 32;",
                  "    default accesswidth = 32;", ""]
        for r in self.registers:
            lines += self._rdl_register(r)
        lines += ["};", ""]
        return "\n".join(lines)

    def _rdl_register(self, r):
        sw = "r" if r.access == "ro" else "rw"
        hw = {"const": "na", "param": "r", "slope": "r", "control": "r"}.get(r.kind, "w")
        out = ["    reg {", f'        name = "{r.name}";',
               f'        desc = "{_rdl_text(r.description)}";']
        for f in r.fields:
            props = [f"sw = {sw}", f"hw = {hw}", f'desc = "{_rdl_text(f.description)}"']
            if r.kind == "control":
                props.append("singlepulse")
            if f.values is not None:
                props.append(f"encode = {f.name.lower()}_e")
            if f.signed is not None:
                props += [f"is_signed = {'true' if f.signed else 'false'}",
                          f"fracwidth = {f.frac}"]
            out.append(f"        field {{ {'; '.join(props)}; }} {f.name}"
                       f"[{f.lsb + f.width - 1}:{f.lsb}] = {f.reset:#x};")
        out.append(f"    }} {r.name} @ {r.offset:#06x};")
        return out


def _rdl_text(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _summary(spec):
    return (f"{spec.kind}, {spec.lanes} lanes of {spec.input_format} -> {spec.output_format}, "
            f"{spec.stages} stage(s); AXI4-Lite control")
