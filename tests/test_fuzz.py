# SPDX-License-Identifier: Apache-2.0
"""Property-based fuzzing of the parameter space (hypothesis).

Random valid configurations are generated as hardware and simulated cycle-accurately against the
golden model; random invalid configurations must fail with the documented clean errors (a
``TypeError`` or ``ValueError`` whose message names the parameter). Runs are derandomized so CI
sees the same examples every time.
"""

from fractions import Fraction

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from relu_hw.generate import to_verilog
from relu_hw.sim import simulate
from relu_hw.spec import (KINDS, OVERFLOW_MODES, READY_MODES, ROUNDING_MODES, TABLE_KINDS,
                          ZEROING_MODES, Spec)

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _decimal(value, places):
    sign = "-" if value < 0 else ""
    scaled = abs(value) * 10 ** places
    whole, part = divmod(int(scaled), 10 ** places)
    return f"{sign}{whole}.{part:0{places}d}" if places else f"{sign}{whole}"


def _fraction_text(lo, hi, max_den=64):
    """A constant in ``[lo, hi]`` as text, the way users write them: '3/8', '-0.25', '2'."""
    fraction = st.integers(1, max_den).flatmap(
        lambda d: st.integers(lo * d, hi * d).map(lambda n: f"{n}/{d}"))
    decimal = st.builds(lambda n, places: _decimal(Fraction(n, 10 ** places), places),
                        st.integers(lo * 100, hi * 100), st.just(2))
    return st.one_of(fraction, decimal, st.integers(lo, hi).map(str))


_POWERS_OF_TWO = st.sampled_from(["1", "1/2", "1/4", "-1/8", "2", "-1", "1/16", "0"])


@st.composite
def valid_configs(draw):
    kind = draw(st.sampled_from(tuple(KINDS)))
    # Table kinds take up to 16 bits; 12 keep their tables quick to compute here.
    width = draw(st.integers(2, 12 if kind in TABLE_KINDS else 32))
    config = dict(
        kind=kind, width=width, frac=draw(st.integers(0, width)),
        rounding=draw(st.sampled_from(tuple(ROUNDING_MODES))),
        overflow=draw(st.sampled_from(tuple(OVERFLOW_MODES))),
        lanes=draw(st.integers(1, 4)), stages=draw(st.integers(1, 4)),
        ready=draw(st.sampled_from(READY_MODES)), user_width=draw(st.integers(0, 9)),
        zeroing=draw(st.sampled_from(ZEROING_MODES)),
        signed=draw(st.sampled_from([True, True, False])),
    )
    if draw(st.booleans()):
        config["out_width"] = out_width = draw(st.integers(2, 32))
        config["out_frac"] = draw(st.integers(0, out_width))
    if draw(st.booleans()):
        config["out_signed"] = draw(st.booleans())
    if kind in ("leaky_relu", "prelu"):
        impl = draw(st.sampled_from(["auto", "auto", "shift_add", "multiplier", "shift"]))
        slope = _POWERS_OF_TWO if impl == "shift" else st.one_of(
            _fraction_text(-3, 3), _fraction_text(-3, 3, max_den=4096),
            _fraction_text(-2000, 2000))
        if kind == "leaky_relu":
            config["slope"] = draw(slope)
        else:
            config["slopes"] = tuple(draw(slope) for _ in range(config["lanes"]))
        config["slope_impl"] = impl
        if impl != "shift" and draw(st.booleans()):
            config["slope_frac"] = draw(st.integers(0, 10))
    if kind in ("elu", "celu") and draw(st.booleans()):
        config["alpha"] = draw(st.sampled_from(["0.3", "1", "2", "3/4", "1.5", "1e-3"]))
    if (kind in TABLE_KINDS and config["signed"] and config["overflow"] == "wrap"
            and not config.get("out_signed", True)):
        config["overflow"] = "saturate"      # refused: wrap into an unsigned output
    if kind == "thresholded_relu" and draw(st.booleans()):
        config["threshold"] = draw(_fraction_text(-8, 8))
    if draw(st.integers(0, 3)) == 0:
        config["max_value"] = draw(st.one_of(_fraction_text(0, 8),
                                             _fraction_text(0, 100000))).lstrip("-")
    # Constants the spec refuses as surely unmeant: a slope that its slope_frac rounds to
    # zero, a clip that the output grid floors to zero.
    for slope in [config.get("slope")] + list(config.get("slopes") or ()):
        if slope is not None and "slope_frac" in config:
            value = Fraction(slope)
            assume(value == 0 or round(value * 2 ** config["slope_frac"]) != 0)
    if "max_value" in config:
        value = Fraction(config["max_value"])
        out_frac = config.get("out_frac", config["frac"])
        assume(value == 0 or value * 2 ** out_frac >= 1)
    return config


@FUZZ
@given(config=valid_configs(), seed=st.integers(0, 2 ** 16),
       handshakes=st.sampled_from([(1.0, 1.0), (0.6, 0.5), (0.9, 0.3)]),
       beats=st.integers(60, 200))
def test_random_configuration_matches_golden_model(config, seed, handshakes, beats):
    spec = Spec(**config)
    valid_prob, ready_prob = handshakes
    report = simulate(spec, beats=beats, seed=seed, valid_prob=valid_prob, ready_prob=ready_prob)
    assert report.passed, (config, [str(m) for m in report.mismatches])
    assert report.latency_min >= spec.latency
    if handshakes == (1.0, 1.0):
        assert report.latency_min == report.latency_max == spec.latency


@settings(max_examples=8, derandomize=True, deadline=None, database=None)
@given(config=valid_configs())
def test_random_configuration_converts_to_verilog(config):
    spec = Spec(**config)
    text = to_verilog(spec)
    assert f"module {spec.name}(" in text.replace(" (", "(")
    assert "m_axis_tvalid" in text and "s_axis_tready" in text


# Invalid configurations: (parameter, bad values, a fragment the message must contain).
_INVALID = {
    "kind": (["sigmoid", "ReLU", ""], "Activation kind"),
    "width": ([1, 33, 0, -8], "Input width"),
    "frac": ([-1, 99], "frac"),
    "out_width": ([1, 33], "Output width"),
    "out_frac": ([-1, 99], "out_frac"),
    "rounding": (["nearest", "rnd", "HALF_UP", "qonnx:UPWARD"], "Rounding mode"),
    "overflow": (["clip", "sat"], "Overflow mode"),
    "slope_impl": (["dsp", "lut"], "Slope implementation"),
    "ready": (["skid", "comb"], "Ready mode"),
    "zeroing": (["lsr", "mux"], "Zeroing"),
    "lanes": ([0, 257, -1], "Lane count"),
    "stages": ([0, 17], "Stage count"),
    "user_width": ([-1, 65], "User width"),
    "slope_frac": ([-1, 33], "slope_frac"),
    "name": (["1abc", "a-b", "", "x" * 129, "has space"], "Name"),
    "max_value": (["-1", "abc", "1e13", "nan", "inf"], "max_value"),
}
_WRONG_TYPES = {
    "width": ["8", 8.0, True, None], "lanes": ["4", 2.5, False], "stages": ["1", 1.0],
    "user_width": ["0", 0.0], "frac": ["4", 4.5], "name": [3],
}


@st.composite
def invalid_configs(draw):
    """A valid configuration with one parameter made invalid; returns (config, fragment)."""
    config = draw(valid_configs())
    # Table kinds' own refusals are tested in tests/test_spec.py.
    assume(config["kind"] not in TABLE_KINDS)
    config.pop("out_width", None), config.pop("out_frac", None)
    config.pop("alpha", None)        # the kind may change below; alpha has a default
    choice = draw(st.sampled_from(sorted(_INVALID) + ["type", "kind_mismatch", "prelu_count",
                                                      "constant", "shift_impl"]))
    if choice == "type":
        param = draw(st.sampled_from(sorted(_WRONG_TYPES)))
        config[param] = draw(st.sampled_from(_WRONG_TYPES[param]))
        fragment = {"width": "Input width", "lanes": "Lane count", "stages": "Stage count",
                    "user_width": "User width", "frac": "frac", "name": "Name"}[param]
        return config, fragment
    if choice == "kind_mismatch":
        # A constant given for a kind that doesn't use it.
        param, value = draw(st.sampled_from([("slope", "0.1"), ("threshold", "1"),
                                             ("slopes", ("0.1",))]))
        wrong = {"slope": "leaky_relu", "threshold": "thresholded_relu", "slopes": "prelu"}
        config = {k: v for k, v in config.items()
                  if k not in ("slope", "slopes", "threshold", "slope_frac", "slope_impl")}
        config["kind"] = draw(st.sampled_from([k for k in KINDS if k != wrong[param]
                                               and k not in TABLE_KINDS]))
        if config["kind"] == "prelu":
            config["slopes"] = ("0.1",) * config["lanes"]
        config[param] = value
        return config, param
    if choice == "prelu_count":
        config.update(kind="prelu", slopes=("0.1",) * (config["lanes"] + 1))
        config.pop("slope", None), config.pop("threshold", None)
        return config, "Slope count"
    if choice == "constant":
        config = {k: v for k, v in config.items() if k not in ("slopes", "threshold")}
        config.update(kind="leaky_relu", slope_impl="auto")
        config["slope"] = draw(st.sampled_from(["abc", "1/0", "nan", "70000", "-65536", "0x10"]))
        return config, "Slope"
    if choice == "shift_impl":
        config = {k: v for k, v in config.items() if k not in ("slopes", "threshold")}
        config.update(kind="leaky_relu", slope="0.3", slope_impl="shift")
        config.pop("slope_frac", None)
        return config, "slope_impl 'shift' needs a power-of-two slope"
    values, fragment = _INVALID[choice]
    if choice == "slope_frac" and config["kind"] not in ("leaky_relu", "prelu"):
        fragment = "slope_frac"
    config[choice] = draw(st.sampled_from(values))
    return config, fragment


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(case=invalid_configs())
def test_invalid_configuration_raises_clean_error(case):
    config, fragment = case
    with pytest.raises((TypeError, ValueError)) as e:
        Spec(**config)
    assert fragment.lower() in str(e.value).lower(), (config, str(e.value))
    # One sentence naming the parameter, not a traceback from deep inside.
    assert "\n" not in str(e.value)
