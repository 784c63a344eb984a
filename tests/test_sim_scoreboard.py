# SPDX-License-Identifier: Apache-2.0
"""The scoreboard: a broken trace must be reported, precisely."""

import copy

import numpy as np
import pytest

from relu_hw.sim import check, make_stimulus, run_amaranth
from relu_hw.sim.scoreboard import End, OutBeats, Scoreboard, expectation
from relu_hw.sim.stimulus import Beats
from relu_hw.golden import golden
from relu_hw.spec import Spec

SPEC = Spec(kind="leaky_relu", slope="0.25", width=8, frac=4, lanes=3, user_width=2)


@pytest.fixture(scope="module")
def good():
    stim = make_stimulus(SPEC, beats=60, seed=5, valid_prob=0.7, ready_prob=0.7)
    return stim, run_amaranth(SPEC, stim)


def test_good_trace_passes(good):
    stim, trace = good
    assert check(SPEC, stim, trace) == ([], 0)


def test_wrong_lane_reported_with_details(good):
    stim, trace = copy.deepcopy(good)
    trace.data[7, 2] += 1
    found, count = check(SPEC, stim, trace)
    assert count == 1
    m = found[0]
    assert (m.what, m.beat, m.lane, m.cycle) == ("data", 7, 2, trace.out_cycle[7])
    assert (m.input, m.got, m.expected) == (stim.data[7, 2], trace.data[7, 2],
                                            trace.data[7, 2] - 1)
    assert str(m).startswith(f"beat 7 (cycle {trace.out_cycle[7]}), lane 2: input")


def _without(trace, index):
    t = copy.deepcopy(trace)
    for name in ("data", "last", "user", "out_cycle"):
        setattr(t, name, np.delete(getattr(t, name), index, axis=0))
    return t


def test_lost_beat(good):
    stim, trace = good
    found, count = check(SPEC, stim, _without(trace, 59))
    assert [m.what for m in found] == ["lost"] and count == 1


def test_dropped_beat_in_the_middle_is_reported_lost_first(good):
    stim, trace = good
    found, count = check(SPEC, stim, _without(trace, 20))
    assert count > 1
    assert (found[0].what, found[0].beat) == ("lost", 20)
    assert str(found[0]).endswith("beat lost (the beats after it come out one place early)")
    assert found[1].what in ("data", "last", "user")


def test_repeated_beat_is_reported_extra_first(good):
    stim, trace = copy.deepcopy(good)
    for name in ("data", "last", "user", "out_cycle"):
        v = getattr(trace, name)
        setattr(trace, name, np.concatenate([v[:31], v[30:31], v[31:]]))
    found, _ = check(SPEC, stim, trace)
    assert (found[0].what, found[0].beat, found[0].detail) == ("extra", 31, "a repeat of beat 30")


def test_duplicated_beat(good):
    stim, trace = copy.deepcopy(good)
    for name in ("data", "last", "user", "out_cycle"):
        v = getattr(trace, name)
        setattr(trace, name, np.concatenate([v, v[-1:]]))
    found, count = check(SPEC, stim, trace)
    assert [m.what for m in found] == ["extra"] and count == 1


def test_reordered_beats(good):
    stim, trace = copy.deepcopy(good)
    for name in ("data", "last", "user"):
        v = getattr(trace, name)
        v[[10, 11]] = v[[11, 10]]
    found, _ = check(SPEC, stim, trace)
    assert (found[0].what, found[0].beat) == ("reordered", 10)
    assert "beats 10 and 11 came out swapped" in str(found[0])
    assert {m.beat for m in found[1:]} >= {10, 11}


@pytest.mark.parametrize("field", ["last", "user"])
def test_sideband(good, field):
    stim, trace = copy.deepcopy(good)
    v = getattr(trace, field)
    v[3] = 1 - v[3] if field == "last" else (v[3] + 1) % 4
    found, count = check(SPEC, stim, trace)
    assert count == 1 and found[0].what == field and found[0].beat == 3


def test_user_width_64():
    spec = Spec(lanes=1, user_width=64)
    stim = make_stimulus(spec, beats=60, seed=4)
    assert stim.user.max() >= 1 << 63  # the top bit is exercised
    trace = run_amaranth(spec, stim)
    assert check(spec, stim, trace) == ([], 0)
    assert np.array_equal(trace.user, stim.user)


def test_chunks_score_like_the_whole(good):
    # A run checked chunk by chunk, with input and output chunks of different sizes, finds
    # what one check of the whole finds.
    stim, trace = copy.deepcopy(good)
    trace.data[[5, 40]] += 1
    trace.user[33] ^= 1
    board = Scoreboard(SPEC, stim.beats, limit=20)
    for start in range(0, stim.beats, 7):
        stop = min(start + 7, stim.beats)
        board.inputs(Beats(start, stim.data[start:stop], stim.last[start:stop],
                           stim.user[start:stop], trace.in_cycle[start:stop]))
    for start in range(0, len(trace.data), 11):
        board.outputs(OutBeats(start, *(getattr(trace, n)[start:start + 11]
                                        for n in ("data", "last", "user", "out_cycle"))))
    end = End(trace.cycles, trace.timed_out, stim.beats, len(trace.data))
    found, count = board.finish(end)
    assert (found, count) == check(SPEC, stim, trace, limit=20)
    assert count == 2 * SPEC.lanes + 1
    assert [(m.what, m.beat) for m in found] == [("data", 5)] * 3 + [("user", 33)] + \
        [("data", 40)] * 3


@pytest.mark.parametrize("spec", [
    Spec(kind="relu", width=8, frac=4, lanes=2),
    Spec(kind="prelu", slopes=("0.25", "-0.3", "1.5"), width=12, frac=6, lanes=3,
         out_width=20, out_frac=10),
    Spec(kind="leaky_relu", slope="0.1", width=20, frac=10, lanes=2),
], ids=["relu8", "prelu12", "leaky20"])
def test_expectation_is_the_golden_model(spec):
    rng = np.random.default_rng(4)
    fmt = spec.input_format
    data = rng.integers(fmt.min_code, fmt.max_code, size=(5000, spec.lanes), endpoint=True,
                        dtype=np.int32)
    data[:2] = np.array([fmt.min_code, fmt.max_code])[:, None]
    np.testing.assert_array_equal(expectation(spec)(data), golden(spec, data))


def test_beat_out_of_nothing_is_extra():
    # An output before any input was offered: reported, not a crash.
    board = Scoreboard(SPEC, 10)
    board.outputs(OutBeats(0, np.zeros((2, 3), dtype=np.int64), np.zeros(2, bool),
                           np.zeros(2, np.uint64), np.array([0, 1])))
    found, count = board.finish(End(5, False, 0, 2))
    assert found[0].what == "extra" and found[0].beat == 0 and count >= 2
