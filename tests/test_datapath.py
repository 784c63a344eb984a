# SPDX-License-Identifier: Apache-2.0
"""The lane datapath, exhaustively: every 8-bit input code through the gateware."""

import re

import numpy as np
import pytest

from relu_hw.gateware.datapath import LaneDatapath
from relu_hw.generate import to_verilog
from relu_hw.golden import golden
from relu_hw.sim import Stimulus, run_amaranth
from relu_hw.spec import Spec
from relu_hw.table import table

from .cases import exhaustive_8bit_specs, spec_id, table_kind_8bit_specs


def all_codes_stimulus(spec):
    fmt = spec.input_format
    codes = np.arange(fmt.min_code, fmt.max_code + 1)
    beats = -(-len(codes) // spec.lanes)
    data = np.resize(codes, beats * spec.lanes).reshape(beats, spec.lanes)
    ones = np.ones(1, dtype=bool)
    return Stimulus(data=data, last=np.zeros(beats, dtype=bool),
                    user=np.zeros(beats, dtype=np.int64), valid_pattern=ones,
                    ready_pattern=ones)


def assert_matches_golden(spec):
    stim = all_codes_stimulus(spec)
    trace = run_amaranth(spec, stim)
    np.testing.assert_array_equal(trace.data, golden(spec, stim.data))


@pytest.mark.parametrize("spec", exhaustive_8bit_specs(lanes=8), ids=spec_id)
def test_exhaustive_8bit(spec):
    assert_matches_golden(spec)


# Table kinds: the read is a synchronous memory, with one stage or more, and both ready modes.
@pytest.mark.parametrize("spec", [
    *table_kind_8bit_specs(lanes=8, overflows=None),
    *table_kind_8bit_specs(lanes=3, overflows=None, stages=2)[::5],
    *table_kind_8bit_specs(lanes=2, overflows=None, stages=3, ready="combinational")[2::5],
], ids=spec_id)
def test_exhaustive_8bit_table_kinds(spec):
    assert_matches_golden(spec)


@pytest.mark.parametrize("kwargs", [
    # 12 bits: every code; large tables, a bound below which codes give -alpha rounded.
    dict(kind="elu", width=12, frac=6, out_width=12, out_frac=8, rounding="half_even"),
    dict(kind="celu", alpha="1.5", width=12, frac=6, out_width=10, out_frac=6,
         out_signed=False, overflow="saturate_zero", rounding="away"),
    dict(kind="selu", width=12, frac=8, out_width=12, out_frac=6, rounding="ceil",
         max_value="4", ready="combinational", stages=2),
    # Every negative code has an entry (no constant), and no code has one (a constant).
    dict(kind="elu", width=10, frac=9, out_width=12, out_frac=11, rounding="floor"),
    dict(kind="elu", width=10, frac=2, out_width=6, out_frac=0, rounding="floor"),
])
def test_exhaustive_wider_table_kinds(kwargs):
    assert_matches_golden(Spec(lanes=8, **kwargs))


def test_table_extremes_are_what_the_tests_above_mean():
    full = Spec(kind="elu", width=10, frac=9, out_width=12, out_frac=11, rounding="floor")
    assert LaneDatapath(full, 0).reads_table and table(full).bound == -512
    none = Spec(kind="elu", width=10, frac=2, out_width=6, out_frac=0, rounding="floor")
    assert not LaneDatapath(none, 0).reads_table and table(none).constant == -1


@pytest.mark.parametrize("impl", ["shift_add", "multiplier"])
@pytest.mark.parametrize("stages", [1, 2])
def test_slope_implementations_agree(impl, stages):
    for slope in ("0.3", "-0.01", "5.75"):
        assert_matches_golden(Spec(kind="leaky_relu", slope=slope, slope_impl=impl, width=8,
                                   frac=4, out_width=10, out_frac=5, rounding="half_even",
                                   lanes=8, stages=stages))


@pytest.mark.parametrize("kwargs", [
    dict(kind="relu", width=2, frac=0),
    dict(kind="relu", width=2, frac=2, out_width=2, out_frac=0, rounding="half_up"),
    dict(kind="leaky_relu", slope="0", width=4, frac=1),
    dict(kind="leaky_relu", slope="65535", width=4, frac=0, out_width=32, out_frac=0),
    dict(kind="thresholded_relu", threshold="100", width=6, frac=2),
    dict(kind="thresholded_relu", threshold="-100", width=6, frac=2, overflow="wrap",
         out_width=3),
    dict(kind="relu", width=6, frac=2, max_value="0"),
    dict(kind="leaky_relu", slope="0.01", slope_frac=7, width=6, frac=3),
])
def test_corner_configurations(kwargs):
    assert_matches_golden(Spec(lanes=8, **kwargs))


def test_wide_format_edges():
    # 32-bit formats cannot be exhausted; their edge codes and random ones can.
    spec = Spec(kind="prelu", slopes=("-0.3", "1e-4"), lanes=2, width=32, frac=16,
                out_width=24, out_frac=20, rounding="half_toward_zero")
    rng = np.random.default_rng(3)
    fmt = spec.input_format
    data = rng.integers(fmt.min_code, fmt.max_code, (400, 2), endpoint=True)
    data[:7] = np.array([fmt.min_code, fmt.min_code + 1, -1, 0, 1, fmt.max_code - 1,
                         fmt.max_code])[:, None]
    ones = np.ones(1, dtype=bool)
    stim = Stimulus(data, np.zeros(400, bool), np.zeros(400, np.int64), ones, ones)
    np.testing.assert_array_equal(run_amaranth(spec, stim).data, golden(spec, data))


def test_shift_add_partial_sums_are_kept_and_narrow():
    # Slope 0.01 is code 1311 = 1024 + 256 + 32 - 1: partial sums x * 31 and x * 287, kept so
    # that synthesis does not merge the adders, each as narrow as x < 0 (16 bits) allows.
    spec = Spec(kind="leaky_relu", slope="0.01", slope_impl="shift_add", width=16, lanes=1)
    assert spec.lane_slopes[0].code == 1311
    text = to_verilog(spec)
    kept = re.findall(r"\(\* keep = 32'd1 \*\)\s*wire \[(\d+):0\] lane0_partial(\d+);", text)
    widths = {int(i): int(msb) + 1 for msb, i in kept}
    assert widths == {1: (32768 * 31).bit_length() + 1, 2: (32768 * 287).bit_length() + 1}
