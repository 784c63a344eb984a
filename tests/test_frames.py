# SPDX-License-Identifier: Apache-2.0
"""The frame-aware golden model (relu_hw.frames)."""

import numpy as np
import pytest

from relu_hw.frames import COUNTER_MAX, FrameModel, Params, Write, parameter_spec, parse_writes
from relu_hw.golden import golden
from relu_hw.spec import Spec

PRELU = Spec(kind="prelu", lanes=2, channels=6, width=8, frac=4,
             slopes=("0.5", "-1", "0.25", "0", "2", "-0.125"))
LEAKY = Spec(kind="leaky_relu", slope="0.25", width=8, frac=4, lanes=2, max_value="2",
             control="axi-lite", runtime="slope,max_value")


def test_places_follow_frames_across_chunks():
    model = FrameModel(PRELU)
    last = np.array([0, 0, 0, 0, 1, 0, 1, 1, 0, 0], dtype=bool)
    frames, places = [], []
    for a, b in ((0, 3), (3, 7), (7, 10)):
        f, p = model.places(last[a:b])
        frames += f.tolist()
        places += p.tolist()
    assert frames == [0, 0, 0, 0, 0, 1, 1, 2, 3, 3]
    assert places == [0, 1, 2, 3, 4, 0, 1, 0, 0, 1]


def test_channels_take_slopes_in_order_and_tlast_restarts():
    model = FrameModel(PRELU)
    x = np.full((5, 2), -16)                        # -1.0 in every lane
    last = np.array([0, 0, 0, 0, 1], dtype=bool)
    y, _ = model.expect(x, last)
    # Groups 0, 1, 2, 0, 1: channels (0, 1), (2, 3), (4, 5), (0, 1), (2, 3).
    assert y.tolist() == [[-8, 16], [-4, 0], [-32, 2], [-8, 16], [-4, 0]]
    y, _ = model.expect(x[:1], np.array([True]))
    assert y.tolist() == [[-8, 16]]
    with pytest.raises(ValueError, match="use relu_hw.frames.FrameModel"):
        golden(PRELU, x)


def test_writes_apply_from_their_frame():
    writes = parse_writes(LEAKY, [{"frame": 1, "register": "SLOPE", "value": "0"},
                                  {"frame": 2, "register": "MAX_VALUE", "value": "0.5"}])
    model = FrameModel(LEAKY, writes)
    x = np.array([[-32, 64]] * 3)
    y, events = model.expect(x, np.ones(3, dtype=bool))
    assert y.tolist() == [[-8, 32], [0, 32], [0, 8]]
    assert events["clip"].tolist() == [[False, True], [False, True], [False, True]]
    assert events["zero"].tolist() == [[False, False], [True, False], [True, False]]


def test_parameter_spec_is_exact():
    params = Params.initial(LEAKY)
    assert params.slopes == (1 << 12,) * 2 and params.max_value == 32
    plain = parameter_spec(LEAKY, Params((3,) * 2, 7, None))
    assert plain.control == "none" and plain.lane_slopes[0].value * (1 << 14) == 3
    assert plain.max_value_q.code == 7


@pytest.mark.parametrize("item, message", [
    ({"frame": -1, "register": "SLOPE", "value": "0"}, "frame must be a non-negative integer"),
    ({"frame": 0, "register": "THRESHOLD", "value": "0"},
     "register must be a runtime parameter register of this block (SLOPE, MAX_VALUE), not "
     "'THRESHOLD'"),
    ({"frame": 0, "register": "SLOPE"}, "needs either 'value' or 'code'"),
    ({"frame": 0, "register": "SLOPE", "value": "3"},
     "SLOPE holds codes from -32768 to 32767 (-2 to 32767/16384), not 49152"),
    ({"frame": 0, "register": "MAX_VALUE", "code": -1}, "MAX_VALUE holds codes from 0 to 127"),
    ({"frame": 0, "register": "SLOPE", "value": "0", "when": 3}, "unknown keys when"),
    ("SLOPE", "must be a table with frame, register and value or code"),
])
def test_write_errors_are_sentences(item, message):
    with pytest.raises((ValueError, TypeError)) as info:
        parse_writes(LEAKY, [item])
    assert message in str(info.value)


def test_writes_need_runtime_parameters():
    with pytest.raises(ValueError, match="need runtime parameters"):
        parse_writes(Spec(control="axi-lite"), [Write(0, "SLOPE", 0)])


def test_counters_saturate():
    model = FrameModel(LEAKY)
    model.beats = COUNTER_MAX + 5
    model.counts["zero"][1] = 1 << 40
    counters = model.counters()
    assert counters["BEATS"] == COUNTER_MAX and counters["ZEROS1"] == COUNTER_MAX
