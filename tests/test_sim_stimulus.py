# SPDX-License-Identifier: Apache-2.0
"""Stimulus: seeded, made chunk by chunk with the numbers of one draw, and the cycle rules."""

import numpy as np
import pytest

from relu_hw.sim.stimulus import (DEADLINE_MARGIN, EXTRA_WATCH, RandomStimulus, Stimulus,
                                  deadline, edge_codes, horizon, make_stimulus, watch)
from relu_hw.spec import Spec

SPEC = Spec(kind="leaky_relu", slope="0.25", width=8, frac=4, lanes=3, user_width=2)


def one_draw(spec, beats, seed, valid_prob, ready_prob):
    """The stimulus as one NumPy generator draws it, part after part: the reference that
    chunked generation must reproduce exactly."""
    rng = np.random.default_rng(seed)
    fmt = spec.input_format
    data = rng.integers(fmt.min_code, fmt.max_code, size=(beats, spec.lanes), endpoint=True)
    edges = np.array(edge_codes(spec))
    n = min(beats, len(edges))
    data[:n] = edges[:n, None]
    last = rng.random(beats) < 0.125
    last[-1] = True
    user = rng.integers(0, 1 << spec.user_width, size=beats, dtype=np.uint64)
    length = int(beats / min(valid_prob, ready_prob)) + spec.latency + 64
    return data, last, user, rng.random(length) < valid_prob, rng.random(length) < ready_prob


@pytest.mark.parametrize("lanes, width, user_width", [
    (1, 2, 0), (3, 8, 1), (8, 16, 7), (5, 31, 32), (2, 32, 33), (3, 12, 64)])
@pytest.mark.parametrize("beats", [1, 7, 301])
def test_chunks_give_the_numbers_of_one_draw(lanes, width, user_width, beats):
    spec = Spec(width=width, frac=0, lanes=lanes, user_width=user_width)
    want = one_draw(spec, beats, 11, 0.7, 0.4)
    source = RandomStimulus(spec, beats, 11, 0.7, 0.4)
    for size in (1, 5, 64):         # odd sizes split a 64-bit draw between chunks
        chunks = list(source.beat_chunks(size))
        assert [c.start for c in chunks] == list(range(0, beats, size))
        got = [np.concatenate([getattr(c, name) for c in chunks])
               for name in ("data", "last", "user")]
        patterns = list(source.pattern_chunks(size * 3 + 1))
        got += [np.concatenate([p[1] for p in patterns]),
                np.concatenate([p[2] for p in patterns])]
        for name, a, b in zip(("data", "last", "user", "valid", "ready"), want, got):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}, chunks of {size}")


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


def test_tiny_probability_makes_patterns_lazily():
    # The patterns of a one-in-a-billion sink cover billions of cycles; they are made only
    # as far as they are asked for.
    source = RandomStimulus(SPEC, beats=2, seed=0, valid_prob=1.0, ready_prob=1e-9)
    assert source.pattern_length > 10 ** 9
    start, valid, ready = next(source.pattern_chunks(1000))
    assert start == 0 and len(valid) == len(ready) == 1000 and not ready.any()


@pytest.mark.parametrize("kwargs, message", [
    (dict(beats=0), "Beat count must be an integer from 1 to 1e+15, not 0"),
    (dict(valid_prob=0), "Source valid probability must be a probability in (0, 1], not 0"),
    (dict(ready_prob=1.5), "Sink ready probability must be a probability in (0, 1], not 1.5"),
    (dict(seed=-1), "Seed must be a non-negative integer, not -1"),
])
def test_bad_parameters(kwargs, message):
    with pytest.raises(ValueError) as info:
        RandomStimulus(SPEC, **{"beats": 10, **kwargs})
    assert str(info.value) == message


def test_held_patterns_read_true_past_their_end():
    stim = Stimulus(np.zeros((3, 3), dtype=np.int64), np.zeros(3, bool),
                    np.zeros(3, np.uint64), np.array([False, True]), np.array([False] * 5))
    assert stim.pattern_length == 5
    (start, valid, ready), = stim.pattern_chunks(100)
    assert start == 0
    assert valid.tolist() == [False, True, True, True, True]
    assert ready.tolist() == [False] * 5


def test_cycle_rules():
    assert deadline(100, 10, 2) == 100 + 10 + 2 + DEADLINE_MARGIN
    assert watch(3) == 3 + EXTRA_WATCH
    assert horizon(100, 10, 2) == deadline(100, 10, 2) + watch(2)
