# SPDX-License-Identifier: Apache-2.0
"""Configurations shared by the exhaustive tests of the golden model and the gateware."""

import numpy as np

from relu_hw.spec import OVERFLOW_MODES, ROUNDING_MODES, Spec

# Per kind, the constants exercised: ordinary, negative, larger than one, and a clip.
KIND_OPTIONS = {
    "relu": [{}, {"max_value": "3"}],
    "leaky_relu": [{"slope": "0.3"}, {"slope": "-1.5", "max_value": "2.5"},
                   {"slope": "0.125"}],
    "prelu": [{"slopes": ("0.25", "0.1", "-0.75", "3")}],
    "thresholded_relu": [{"threshold": "0.3"}, {"threshold": "-1.1", "max_value": "1"}],
}

# (width, frac, out_width, out_frac, signed, out_signed): rounding matters in the first two,
# overflow in all; the last two have unsigned outputs (where anything below zero overflows),
# the last an unsigned input too.
FORMATS_8BIT = [(8, 4, 8, 2, True, True), (8, 5, 6, 1, True, True), (8, 3, 8, 5, True, True),
                (8, 4, 8, 3, True, False), (8, 3, 7, 1, False, False)]


def exhaustive_8bit_specs(lanes=4):
    """Every kind, rounding and overflow mode, over 8-bit input formats, signed and
    unsigned."""
    specs = []
    for kind, variants in KIND_OPTIONS.items():
        for i, extra in enumerate(variants):
            for rounding in ROUNDING_MODES:
                for overflow in OVERFLOW_MODES:
                    w, f, ow, of, sg, osg = FORMATS_8BIT[(i + len(specs)) % len(FORMATS_8BIT)]
                    extra = dict(extra)
                    if kind == "prelu":
                        extra["slopes"] = (extra["slopes"] * lanes)[:lanes]
                    specs.append(Spec(kind=kind, width=w, frac=f, out_width=ow, out_frac=of,
                                      signed=sg, out_signed=osg, rounding=rounding,
                                      overflow=overflow, lanes=lanes, **extra))
    return specs


# The table kinds (exponential negative side), with alphas below and above one, and a clip.
TABLE_KIND_OPTIONS = [{"kind": "elu"}, {"kind": "elu", "alpha": "0.3"}, {"kind": "selu"},
                      {"kind": "celu", "alpha": "2"}, {"kind": "celu", "alpha": "3/4"},
                      {"kind": "elu", "alpha": "5", "max_value": "2"}]


def table_kind_8bit_specs(lanes=1, overflows=tuple(OVERFLOW_MODES), **extra):
    """Every table kind and rounding mode, and each of ``overflows`` (all of them, or one
    per spec in turn when ``overflows`` is ``None``), over the 8-bit formats; wrap into an
    unsigned output from a signed input is refused, so left out."""
    specs = []
    for i, options in enumerate(TABLE_KIND_OPTIONS):
        for j, rounding in enumerate(ROUNDING_MODES):
            for overflow in overflows or (list(OVERFLOW_MODES)[(i + j) % len(OVERFLOW_MODES)],):
                w, f, ow, of, sg, osg = FORMATS_8BIT[(i + j + len(specs)) % len(FORMATS_8BIT)]
                if overflow == "wrap" and sg and not osg:
                    continue
                specs.append(Spec(width=w, frac=f, out_width=ow, out_frac=of, signed=sg,
                                  out_signed=osg, rounding=rounding, overflow=overflow,
                                  lanes=lanes, **options, **extra))
    return specs


def all_codes(spec):
    """Every input code of ``spec``'s input format, in order."""
    fmt = spec.input_format
    return np.arange(fmt.min_code, fmt.max_code + 1)


def spec_id(spec):
    consts = "".join(f"-{k}{v}" for k, v in (("s", spec.slope), ("t", spec.threshold),
                                               ("a", spec.alpha), ("m", spec.max_value))
                     if v is not None)
    sign = "".join("s" if s else "u" for s in (spec.signed, spec.out_signed))
    return (f"{spec.kind}{consts}-{spec.width}.{spec.frac}-{spec.out_width}.{spec.out_frac}"
            f"-{sign}-{spec.rounding}-{spec.overflow}")
