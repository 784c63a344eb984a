# SPDX-License-Identifier: Apache-2.0
"""The simulator's stimulus and scoreboard: a broken trace must be reported, precisely."""

import copy

import numpy as np
import pytest

from relu_hw.simulate import (check, edge_codes, make_stimulus, pack_lanes, run_amaranth,
                              simulate, unpack_lanes)
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


def test_dropped_beat_in_the_middle_shows_as_shifted_data(good):
    stim, trace = good
    found, count = check(SPEC, stim, _without(trace, 20))
    assert count > 1 and found[0].beat == 20


def test_duplicated_beat(good):
    stim, trace = copy.deepcopy(good)
    for name in ("data", "last", "user", "out_cycle"):
        v = getattr(trace, name)
        setattr(trace, name, np.concatenate([v, v[-1:]]))
    found, count = check(SPEC, stim, trace)
    assert [m.what for m in found] == ["extra"] and count == 1


def test_reordered_beats(good):
    stim, trace = copy.deepcopy(good)
    trace.data[[10, 11]] = trace.data[[11, 10]]
    found, _ = check(SPEC, stim, trace)
    assert {m.beat for m in found} >= {10, 11}


@pytest.mark.parametrize("field", ["last", "user"])
def test_sideband(good, field):
    stim, trace = copy.deepcopy(good)
    v = getattr(trace, field)
    v[3] = 1 - v[3] if field == "last" else (v[3] + 1) % 4
    found, count = check(SPEC, stim, trace)
    assert count == 1 and found[0].what == field and found[0].beat == 3


def test_stimulus_is_seeded_and_starts_with_edge_codes():
    a = make_stimulus(SPEC, beats=50, seed=9, valid_prob=0.5, ready_prob=0.5)
    b = make_stimulus(SPEC, beats=50, seed=9, valid_prob=0.5, ready_prob=0.5)
    c = make_stimulus(SPEC, beats=50, seed=10, valid_prob=0.5, ready_prob=0.5)
    assert np.array_equal(a.data, b.data) and np.array_equal(a.valid_pattern, b.valid_pattern)
    assert not np.array_equal(a.data, c.data)
    edges = edge_codes(SPEC)
    assert {-128, -1, 0, 1, 127} <= set(edges)
    assert a.data[:len(edges), 0].tolist() == edges
    assert a.last[-1]
    assert 0.3 < a.valid_pattern.mean() < 0.7


@pytest.mark.parametrize("kwargs, message", [
    (dict(beats=0), "Beat count must be a positive integer, not 0"),
    (dict(valid_prob=0), "Source valid probability must be a probability in (0, 1], not 0"),
    (dict(ready_prob=1.5), "Sink ready probability must be a probability in (0, 1], not 1.5"),
])
def test_bad_simulation_parameters(kwargs, message):
    with pytest.raises(ValueError) as info:
        simulate(SPEC, **kwargs)
    assert str(info.value) == message


def test_pack_roundtrip():
    rng = np.random.default_rng(0)
    data = rng.integers(-2 ** 31, 2 ** 31, size=(20, 5))
    assert np.array_equal(unpack_lanes(pack_lanes(data, 32), 32, 5), data)


def test_report_and_vcd(tmp_path):
    vcd = tmp_path / "wave.vcd"
    report = simulate(SPEC, beats=40, seed=2, valid_prob=0.5, ready_prob=0.5, vcd=vcd)
    assert report.passed and report.beats == 40
    assert report.cycles > report.ideal_cycles
    assert 0 < report.efficiency < 1
    assert "stage1_valid" in vcd.read_text()
    d = report.as_dict()
    assert d["passed"] and d["latency"]["nominal"] == 1 and d["mismatches"] == []


def test_user_width_64():
    spec = Spec(lanes=1, user_width=64)
    stim = make_stimulus(spec, beats=60, seed=4)
    assert stim.user.max() >= 1 << 63  # the top bit is exercised
    trace = run_amaranth(spec, stim)
    assert check(spec, stim, trace) == ([], 0)
    assert np.array_equal(trace.user, stim.user)
