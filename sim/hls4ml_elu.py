# SPDX-License-Identifier: Apache-2.0
"""The error of an hls4ml-style ELU table, against the correctly rounded one, on every code.

A model of hls4ml's ELU (``nnet_activation.h``, Vivado templates): a table of N = 1024
entries over [-8, 0), entry i = (table_t)(expf(-8 i / N) - 1.) in ``ap_fixed<18,8>``
(AP_TRN, AP_WRAP); for x < 0 the index is (int)(x * N / -8), clamped to N - 1, and the result
alpha * table[index] is cast to the output type; x >= 0 passes through.

Here ``expf`` is exp in double rounded to float (glibc's expf is correctly rounded in all but
rare cases), ``- 1.`` is exact in double and the function's float return rounds it to float.

    python sim/hls4ml_elu.py [--width 16] [--frac 8]

prints a Markdown table: for each output rounding (AP_TRN as floor, AP_RND_CONV as
half_even), the codes where the hls4ml-style result differs from the correctly rounded one,
the largest difference, and the largest error against the exact value, in output steps; and
the same for relu-hw's block (its golden model, which the tests check on every code against
mpmath at 200 digits and the hardware on every code).
"""

import argparse
import math

import numpy as np
from mpmath.ctx_mp import MPContext

from relu_hw.golden import golden
from relu_hw.spec import Spec

N = 1024
TABLE_FRAC = 18 - 8          # ap_fixed<18,8>: 10 fractional bits


def hls4ml_table():
    """Table codes (units of 2^-10), as hls4ml's init_elu_table makes them."""
    codes = []
    for i in range(N):
        in_val = np.float32(-8.0 * i / np.float32(N))
        e = np.float32(math.exp(float(in_val)))          # expf, correctly rounded
        value = np.float32(float(e) - 1.0)               # exact in double, rounded to float
        codes.append(math.floor(float(value) * 2 ** TABLE_FRAC))   # AP_TRN
    return np.array(codes, dtype=np.int64)


def hls4ml_elu(codes, frac, out_frac, rounding, alpha=1):
    """Output codes of the model for input codes ``codes`` (``frac`` fractional bits)."""
    table = hls4ml_table()
    out = []
    for c in codes:
        c = int(c)
        if c >= 0:
            v = c * 2 ** (out_frac - frac)       # x passes through (the formats here keep it)
            out.append(v)
            continue
        # index = (int)(x * N / -8): x * N / -8 = -c * 128 / 2^frac, positive; truncated.
        index = min((-c * N) // (8 << frac), N - 1)
        scaled = alpha * table[index]                   # units of 2^-10
        shift = TABLE_FRAC - out_frac
        if rounding == "floor" or shift == 0:
            out.append(scaled >> shift)
        else:                                           # half_even
            q, r = divmod(scaled, 1 << shift)
            half = 1 << (shift - 1)
            out.append(q + (r > half or (r == half and q % 2 == 1)))
    return np.array(out, dtype=np.int64)


def exact_in_steps(codes, frac, out_frac):
    """The exact ELU of each code in output steps, as floats (for error figures)."""
    mp = MPContext()
    mp.dps = 40
    return np.array([float(c * 2.0 ** (out_frac - frac)) if c >= 0 else
                     float((mp.exp(mp.mpf(int(c)) / 2 ** frac) - 1) * 2 ** out_frac)
                     for c in codes])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--frac", type=int, default=8)
    args = parser.parse_args()
    width, frac = args.width, args.frac
    codes = np.arange(-(1 << (width - 1)), 1 << (width - 1))
    exact = exact_in_steps(codes, frac, frac)
    print(f"ELU, alpha 1, every code of SQ({width - frac},{frac}) -> SQ({width - frac},"
          f"{frac}) ({len(codes)} codes)\n")
    print("| output rounding | model | codes not correctly rounded | largest difference from "
          "correctly rounded (steps) | largest error vs exact (steps) |")
    print("|---|---|---:|---:|---:|")
    for rounding, ap in (("floor", "AP_TRN"), ("half_even", "AP_RND_CONV")):
        spec = Spec(kind="elu", width=width, frac=frac, rounding=rounding, lanes=1)
        ours = golden(spec, codes[:, None])[:, 0]
        theirs = hls4ml_elu(codes, frac, frac, rounding)
        for name, got in (("hls4ml-style 1024-entry table", theirs), ("relu-hw", ours)):
            wrong = int((got != ours).sum())
            worst = int(np.abs(got - ours).max())
            error = float(np.abs(got - exact).max())
            print(f"| {rounding} ({ap}) | {name} | {wrong} | {worst} | {error:.4f} |")


if __name__ == "__main__":
    main()
