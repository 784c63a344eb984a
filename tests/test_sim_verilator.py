# SPDX-License-Identifier: Apache-2.0
"""The Verilator backend: cycle-for-cycle equal to the Amaranth simulator, exhaustive against
the golden model, and precise about foreign Verilog that is wrong."""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from relu_hw.generate import to_verilog
from relu_hw.golden import golden
from relu_hw.sim import Stimulus, check, make_stimulus, run_amaranth, simulate
from relu_hw.spec import KINDS, OVERFLOW_MODES, ROUNDING_MODES, TABLE_KINDS, Spec
from relu_hw.sim.verilator import (_generated, build_model, find_top, model_cache, pack_tdata,
                                   run_verilator, unpack_tdata)

from .test_golden import _apy_output


@pytest.fixture(scope="module", autouse=True)
def relu_hw_cache(tmp_path_factory):
    """A model cache of this session's own, unless the caller set ``RELU_HW_CACHE`` to share
    models across sessions. The variable is restored after this module: left set, it would
    point the next test file's work root under /tmp, which the YoWASP tools cannot see."""
    before = os.environ.get("RELU_HW_CACHE")
    if before is None:
        os.environ["RELU_HW_CACHE"] = str(tmp_path_factory.getbasetemp() / "relu-hw-cache")
    yield model_cache()
    if before is None:
        del os.environ["RELU_HW_CACHE"]


@pytest.fixture(scope="module", autouse=True)
def prebuilt(request, relu_hw_cache):
    """Compile the models of the selected tests' ``spec`` parameters in parallel up front:
    each compile is one single-threaded C++ build, so this uses every CPU. The Verilog is
    generated first, serially (Amaranth is not meant to be used from several threads)."""
    specs = {item.callspec.params["spec"] for item in request.session.items
             if item.module is request.module and hasattr(item, "callspec")
             and isinstance(item.callspec.params.get("spec"), Spec)}
    for spec in specs:
        _generated(spec)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(build_model, specs))


def _equal_traces(a, b):
    for name in ("data", "last", "user", "out_cycle", "in_cycle"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.cycles, a.timed_out) == (b.cycles, b.timed_out)


# Kinds, widths (including a 3-byte lane), lanes 1..16, stages 1..3, both ready modes, users.
EQUIVALENCE = [
    Spec(kind="relu", width=16, frac=8, lanes=1, stages=1, ready="registered"),
    Spec(kind="leaky_relu", slope="0.1", width=8, frac=4, lanes=4, stages=2,
         ready="combinational", user_width=5, rounding="half_even"),
    Spec(kind="prelu", slopes=("0.25", "-0.3", "1.5"), width=12, frac=6, lanes=3, stages=3,
         ready="registered", user_width=1, rounding="half_away", overflow="wrap"),
    Spec(kind="thresholded_relu", threshold="0.5", width=20, frac=10, out_width=12,
         out_frac=4, lanes=16, stages=2, ready="combinational", user_width=60,
         rounding="half_up"),
    Spec(kind="relu", width=16, frac=8, out_width=8, out_frac=2, max_value="20", lanes=5,
         stages=1, ready="combinational", overflow="saturate_symmetric", user_width=3),
    Spec(kind="prelu", slopes=("0.5", "-0.25"), width=12, frac=4, out_width=10, out_frac=3,
         out_signed=False, lanes=2, stages=2, ready="registered", rounding="away",
         overflow="saturate_zero", user_width=2),
]


@pytest.mark.parametrize("spec", EQUIVALENCE, ids=lambda s: f"{s.kind}-{s.width}b-"
                         f"{s.lanes}l-{s.stages}s-{s.ready[:4]}-u{s.user_width}")
@pytest.mark.parametrize("probs", [(1.0, 1.0), (0.6, 0.5), (0.9, 0.3)])
def test_equivalent_to_amaranth(spec, probs):
    stim = make_stimulus(spec, beats=300, seed=11, valid_prob=probs[0], ready_prob=probs[1])
    ours = run_verilator(spec, stim)
    _equal_traces(ours, run_amaranth(spec, stim))
    assert len(ours.data) == stim.beats and not ours.timed_out
    assert check(spec, stim, ours) == ([], 0)


def test_user_of_64_bits_passes_through():
    spec = Spec(kind="relu", width=8, frac=4, lanes=2, user_width=64, ready="combinational")
    stim = make_stimulus(spec, beats=100, seed=6, valid_prob=0.7, ready_prob=0.7)
    stim.user[:2] = [np.iinfo(np.uint64).max, 1 << 63]
    assert stim.user.dtype == np.uint64
    ours = run_verilator(spec, stim)
    np.testing.assert_array_equal(ours.user, stim.user)
    assert check(spec, stim, ours) == ([], 0)
    # The same cycles and values as the Amaranth simulator.
    theirs = run_amaranth(spec, stim)
    np.testing.assert_array_equal(ours.user, theirs.user)
    np.testing.assert_array_equal(ours.out_cycle, theirs.out_cycle)


def test_full_rate_latency_is_the_stage_count():
    spec = EQUIVALENCE[2]
    stim = make_stimulus(spec, beats=200, seed=1)
    trace = run_verilator(spec, stim)
    np.testing.assert_array_equal(trace.in_cycle, np.arange(200))
    np.testing.assert_array_equal(trace.out_cycle, np.arange(200) + spec.stages)
    assert trace.cycles == 200 + spec.stages


def test_starved_sink_times_out_like_amaranth():
    # A sink that is never ready within the patterns, which then end: the run still ends.
    spec = EQUIVALENCE[1]
    stim = make_stimulus(spec, beats=50, seed=3)
    stim.ready_pattern = np.zeros(400, dtype=bool)
    ours = run_verilator(spec, stim)
    _equal_traces(ours, run_amaranth(spec, stim))
    assert ours.out_cycle[0] == 400


# Exhaustive: every input code of 8- and 16-bit formats, every kind, all seven rounding modes
# and all three overflow modes between them.
def _exhaustive_specs():
    specs = []
    for w in (8, 16):
        f = w // 2
        narrow = dict(out_width=w - 2, out_frac=f - 2)
        specs += [
            Spec(kind="relu", width=w, frac=f, **narrow, rounding="half_even"),
            Spec(kind="relu", width=w, frac=f, out_width=w // 2, out_frac=f - 1,
                 rounding="half_up", overflow="wrap", max_value="5"),
            Spec(kind="leaky_relu", width=w, frac=f, slope="0.1", rounding="half_away",
                 overflow="saturate_symmetric"),
            Spec(kind="leaky_relu", width=w, frac=f, **narrow, slope="-1.5",
                 rounding="half_down", overflow="wrap"),
            Spec(kind="prelu", width=w, frac=f, slopes=("0.25", "-0.3", "1.75", "0.01"),
                 rounding="half_toward_zero"),
            Spec(kind="prelu", width=w, frac=f, **narrow, slopes=("3", "0.5", "-2", "0.7"),
                 rounding="toward_zero", overflow="wrap"),
            Spec(kind="thresholded_relu", width=w, frac=f, threshold="0.5", **narrow,
                 max_value="3.5"),
            Spec(kind="thresholded_relu", width=w, frac=f, threshold="-2", out_width=w,
                 out_frac=f + 1, rounding="half_even", overflow="saturate_symmetric"),
        ]
    # Unsigned outputs (below zero overflows) and inputs; the directed modes; saturation to
    # zero. One width: each model costs a compile.
    specs += [
        Spec(kind="leaky_relu", width=8, frac=4, slope="0.375", out_width=6, out_frac=2,
             out_signed=False, rounding="ceil", overflow="saturate_zero"),
        Spec(kind="relu", width=8, frac=4, signed=False, out_width=7, out_frac=2,
             out_signed=False, rounding="away", overflow="wrap"),
    ]
    # Table kinds: a memory read whose register is stage 1, with one stage and with more.
    specs += [
        Spec(kind="elu", width=16, frac=8, rounding="half_even"),
        Spec(kind="selu", width=16, frac=8, out_frac=10, max_value="6", rounding="floor",
             stages=2, ready="combinational"),
        Spec(kind="celu", alpha="0.75", width=8, frac=4, out_width=6, out_frac=2,
             out_signed=False, rounding="away", overflow="saturate_zero", lanes=3),
        Spec(kind="elu", alpha="3", width=8, frac=4, out_width=6, out_frac=3, rounding="ceil",
             overflow="wrap", lanes=2, stages=3),
    ]
    return specs


EXHAUSTIVE = _exhaustive_specs()


def test_exhaustive_set_covers_every_mode():
    assert {s.rounding for s in EXHAUSTIVE} == set(ROUNDING_MODES)
    assert {s.overflow for s in EXHAUSTIVE} == set(OVERFLOW_MODES)
    assert {(s.signed, s.out_signed) for s in EXHAUSTIVE} == {(True, True), (True, False),
                                                              (False, False)}
    assert {s.kind for s in EXHAUSTIVE} == set(KINDS)
    assert {s.width for s in EXHAUSTIVE if s.kind in TABLE_KINDS} == {8, 16}


def exhaustive_stimulus(spec, seed=0):
    """Every input code in every lane, each lane rotated so that a beat mixes codes."""
    fmt = spec.input_format
    codes = np.arange(fmt.min_code, fmt.max_code + 1, dtype=np.int64)
    n = len(codes)
    data = np.stack([np.roll(codes, 97 * k) for k in range(spec.lanes)], axis=1)
    rng = np.random.default_rng(seed)
    last = rng.random(n) < 0.1
    return Stimulus(data=data, last=last, user=np.zeros(n, dtype=np.int64),
                    valid_pattern=rng.random(2 * n) < 0.8,
                    ready_pattern=rng.random(2 * n) < 0.8)


@pytest.mark.parametrize("spec", EXHAUSTIVE, ids=lambda s: f"{s.kind}-{s.width}b-{s.rounding}-"
                         f"{s.overflow}")
def test_exhaustive_against_golden(spec):
    stim = exhaustive_stimulus(spec)
    trace = run_verilator(spec, stim)
    assert len(trace.data) == stim.beats
    np.testing.assert_array_equal(trace.data, golden(spec, stim.data))
    np.testing.assert_array_equal(trace.last, stim.last)
    assert check(spec, stim, trace) == ([], 0)
    # The outputs really exercise the format: not a constant, and inside the range.
    lo, hi = spec.output_range
    assert len(np.unique(trace.data)) > 3 and lo <= trace.data.min() <= trace.data.max() <= hi


@pytest.mark.parametrize("lane_bits", [8, 16, 24, 32])
def test_tdata_packing_round_trips(lane_bits):
    rng = np.random.default_rng(lane_bits)
    lo = -(1 << (lane_bits - 1))
    data = rng.integers(lo, -lo, size=(50, 7), endpoint=False)
    words = pack_tdata(data, lane_bits, -(-lane_bits * 7 // 32))
    assert words.dtype == np.dtype("<u4")
    # Lane 1 starts at bit lane_bits, little-endian.
    as_int = [int.from_bytes(w.tobytes(), "little") for w in words[:3]]
    mask = (1 << lane_bits) - 1
    assert [(v >> lane_bits) & mask for v in as_int] == [int(x) & mask for x in data[:3, 1]]
    np.testing.assert_array_equal(unpack_tdata(words, lane_bits, 7), data)


def test_wide_configuration_builds_and_runs():
    # 64 lanes of 32 bits: a 2048-bit TDATA, a model that Verilator splits into several files.
    spec = Spec(kind="leaky_relu", slope="0.3", width=32, frac=16, lanes=64, stages=2,
                user_width=8)
    result = simulate(spec, beats=400, seed=2, valid_prob=0.7, ready_prob=0.7,
                      backend="verilator")
    assert result.passed and result.beats == 400


def test_second_build_comes_from_the_cache():
    spec = EQUIVALENCE[0]
    first = build_model(spec)
    folders = sorted(p.name for p in model_cache().iterdir())
    # A fresh process must find the model without compiling: no new folder, same library.
    code = ("import sys; from relu_hw.sim.verilator import build_model; from relu_hw.spec import "
            "Spec; m = build_model(Spec(kind='relu', width=16, frac=8, lanes=1)); "
            "print(m.path)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=dict(os.environ))
    assert out.stdout.strip() == str(first.path)
    assert sorted(p.name for p in model_cache().iterdir()) == folders


def test_two_processes_building_at_once(tmp_path):
    # Both compile the same new model at the same time; both must load the one published.
    # A fresh cache (with Verilator's runtime copied in) so that the model is really built.
    build_model(EQUIVALENCE[0])
    cache = tmp_path / "cache"
    for runtime in model_cache().glob("runtime-*"):
        shutil.copytree(runtime, cache / "verilator" / runtime.name)
    code = ("from relu_hw.sim.verilator import build_model; from relu_hw.spec import Spec; "
            "print(build_model(Spec(kind='relu', width=10, frac=3, lanes=7)).path)")
    env = dict(os.environ, RELU_HW_CACHE=str(cache))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    outs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    paths = {out.strip() for out, _ in outs}
    assert len(paths) == 1 and paths.pop().startswith(str(cache))
    entries = sorted(p.name for p in (cache / "verilator").iterdir())
    assert [e for e in entries if e.startswith("model-")] == [Path(p).parent.name
                                                               for p in {outs[0][0].strip()}]
    assert not [e for e in entries if e.startswith(".")]  # no build folders left behind


def test_vcd_from_a_traced_build(tmp_path):
    spec = EQUIVALENCE[1]
    stim = make_stimulus(spec, beats=20, seed=4, valid_prob=0.5, ready_prob=0.5)
    vcd = tmp_path / "run.vcd"
    trace = run_verilator(spec, stim, vcd=vcd)
    _equal_traces(trace, run_verilator(spec, stim))
    text = vcd.read_text()
    assert "$enddefinitions" in text and "m_axis_tvalid" in text and "s_axis_tdata" in text


# Foreign Verilog: a hand-edited copy with a bug, under another module name.
BUGGY_SPEC = Spec(kind="relu", width=8, frac=4, lanes=2, stages=1)


def _buggy_verilog(tmp_path):
    """The generated Verilog with lane 1's sign test moved from bit 7 to bit 6, and the top
    module renamed so that it has to be discovered."""
    text = to_verilog(BUGGY_SPEC)
    # Each lane's result is a 7-bit ReLU (its sign is always 0), masked by "~ x[sign]".
    sign_tests = re.findall(r"= ~ i__payload\[(\d+)\];", text)
    assert sign_tests == ["7", "15"], "the generated Verilog changed shape; update this edit"
    text = text.replace("= ~ i__payload[15];", "= ~ i__payload[14];")
    text = re.sub(r"\brelu_axis\b", "hand_edited_relu", text)
    path = tmp_path / "edited.v"
    path.write_text(text)
    return path


def _buggy_reference(x):
    """What the edited lane computes: zero when bit 6 is set, else the low 7 bits."""
    return np.where((x >> 6) & 1, 0, x & 0x7F)


def test_hand_edited_verilog_first_mismatch(tmp_path):
    path = _buggy_verilog(tmp_path)
    stim = make_stimulus(BUGGY_SPEC, beats=500, seed=9, valid_prob=0.7, ready_prob=0.7)
    trace = run_verilator(BUGGY_SPEC, stim, verilog=path)
    expected = golden(BUGGY_SPEC, stim.data)
    np.testing.assert_array_equal(trace.data[:, 0], expected[:, 0])
    np.testing.assert_array_equal(trace.data[:, 1], _buggy_reference(stim.data[:, 1]))
    first = int(np.flatnonzero(expected[:, 1] != _buggy_reference(stim.data[:, 1]))[0])
    found, count = check(BUGGY_SPEC, stim, trace)
    m = found[0]
    assert (m.what, m.beat, m.lane, m.cycle) == ("data", first, 1, trace.out_cycle[first])
    assert (m.input, m.expected, m.got) == (stim.data[first, 1], expected[first, 1],
                                            _buggy_reference(stim.data[first, 1]))
    assert count == int(np.sum(expected[:, 1] != _buggy_reference(stim.data[:, 1])))


def test_generated_verilog_as_a_file_passes(tmp_path):
    path = tmp_path / "good.v"
    path.write_text(to_verilog(BUGGY_SPEC))
    result = simulate(BUGGY_SPEC, beats=300, valid_prob=0.5, ready_prob=0.5,
                      backend="verilator", verilog=path)
    assert result.passed


def test_cli_reports_first_mismatch(tmp_path):
    path = _buggy_verilog(tmp_path)
    stim = make_stimulus(BUGGY_SPEC, beats=200, seed=0)
    expected = golden(BUGGY_SPEC, stim.data)
    first = int(np.flatnonzero(expected[:, 1] != _buggy_reference(stim.data[:, 1]))[0])
    x = int(stim.data[first, 1])
    out = subprocess.run(
        [sys.executable, "-m", "relu_hw", "simulate", "--kind", "relu", "--width", "8",
         "--frac", "4", "--lanes", "2", "--beats", "200", "--seed", "0", "--backend",
         "verilator", "--verilog", str(path)],
        capture_output=True, text=True, env=dict(os.environ))
    assert out.returncode == 1, out.stderr
    assert (f"beat {first} (cycle {first + 1}), lane 1: input {x}, expected "
            f"{expected[first, 1]}, got {_buggy_reference(x)}") in out.stdout


def test_top_module_discovery():
    a = "module helper(input a, output b); endmodule\n"
    b = "module top(input aclk, output q); helper h(); endmodule\n"
    assert find_top(a + b, ["aclk", "q"]) == "top"
    assert find_top(a + b, ["aclk"], top="helper") == "helper"
    with pytest.raises(ValueError, match=r"closest, 'top', lacks zz"):
        find_top(a + b, ["aclk", "zz"])
    with pytest.raises(ValueError, match=r"Top module 'nope' is not in the Verilog file; "
                                         r"it declares helper, top"):
        find_top(a + b, ["aclk"], top="nope")
    with pytest.raises(ValueError, match=r"Several modules .*\(top, top2\); name the top"):
        find_top(b + b.replace("top", "top2"), ["aclk"])
    # Ports named only in comments do not count.
    with pytest.raises(ValueError, match="lacks q"):
        find_top("module m(input aclk); // q\nendmodule", ["aclk", "q"])


def test_wrong_port_width_is_reported(tmp_path):
    path = tmp_path / "narrow.v"
    narrow = Spec(kind="relu", width=8, frac=4, lanes=1)
    path.write_text(to_verilog(narrow))
    # Built and cached for the configuration it fits, it must still be refused for another.
    assert run_verilator(narrow, make_stimulus(narrow, beats=10), verilog=path).data.shape \
        == (10, 1)
    stim = make_stimulus(BUGGY_SPEC, beats=10)
    with pytest.raises(ValueError, match=r"Port 's_axis_tdata' of module 'relu_axis' is an "
                                         r"input of 8 bits; this configuration needs an input "
                                         r"of 16 bits"):
        run_verilator(BUGGY_SPEC, stim, verilog=path)


def test_verilog_that_does_not_compile(tmp_path):
    path = tmp_path / "broken.v"
    path.write_text(to_verilog(BUGGY_SPEC).replace("endmodule", "endmodule oops", 1))
    with pytest.raises(ValueError, match=r"Verilator cannot compile '.*broken\.v'"):
        build_model(BUGGY_SPEC, verilog=path)


def test_unreadable_verilog(tmp_path):
    with pytest.raises(ValueError, match=r"Cannot read the Verilog file '.*missing\.v'"):
        build_model(BUGGY_SPEC, verilog=tmp_path / "missing.v")


def test_vcd_needs_traced_model():
    model = build_model(BUGGY_SPEC)
    with pytest.raises(ValueError, match="Writing a VCD needs a model built with trace=True"):
        model.run(make_stimulus(BUGGY_SPEC, beats=5), vcd="x.vcd")
    with pytest.raises(TypeError, match="Stimulus must be a relu_hw.sim.Stimulus"):
        model.run("beats")


def _edited(tmp_path, name, body):
    """The generated Verilog of BUGGY_SPEC with ``body`` added to its top module."""
    text = to_verilog(BUGGY_SPEC)
    top = text.index("module relu_axis(")
    end = text.index("endmodule", top)
    path = tmp_path / f"{name}.v"
    path.write_text(text[:end] + body + text[end:])
    return path


_COUNTER = """
  reg [15:0] relu_hw_test_count = 0;
  always @(posedge aclk) begin
    relu_hw_test_count <= relu_hw_test_count + 1;
    $display("cycle %0d", relu_hw_test_count);
    if (relu_hw_test_count == 40) STOP;
  end
"""


@pytest.mark.parametrize("stop, message", [
    ('$fatal(1, "boom")', r"\[\d+\] %Fatal: fatal\.v:\d+: Assertion failed in TOP\.relu_axis: "
                          r"boom \(\$stop or \$fatal at .*fatal\.v:\d+\)"),
    ("$finish", r"\$finish at .*finish\.v:\d+"),
    ("$stop", r"\$stop or \$fatal at .*stop\.v:\d+"),
])
def test_a_model_that_stops_itself_ends_the_run_with_its_message(tmp_path, stop, message):
    name = stop[1:stop.index("(") if "(" in stop else None]
    path = _edited(tmp_path, name, _COUNTER.replace("STOP", stop))
    proc = subprocess.run(
        [sys.executable, "-m", "relu_hw", "simulate", "--kind", "relu", "--width", "8",
         "--frac", "4", "--lanes", "2", "--beats", "500", "--backend", "verilator",
         "--verilog", str(path), "--json"], capture_output=True, text=True)
    assert proc.returncode == 1
    report = json.loads(proc.stdout)       # the model's $display stays out of the JSON
    assert not report["passed"]
    assert re.fullmatch(r"the model stopped at cycle 38: " + message, report["stopped"])
    assert "cycle 40" in proc.stderr       # ... and goes to standard error


def test_a_module_that_never_answers_fails_with_no_output_beat(tmp_path):
    # Ports that fit, tied off: it never takes a beat and never offers one.
    ports = ["input aclk", "input aresetn", "input [15:0] s_axis_tdata",
             "input s_axis_tvalid", "output s_axis_tready", "input s_axis_tlast",
             "output [15:0] m_axis_tdata", "output m_axis_tvalid", "input m_axis_tready",
             "output m_axis_tlast"]
    path = tmp_path / "silent.v"
    path.write_text("module silent(" + ", ".join(ports) + ");\n"
                    "  assign s_axis_tready = 0;\n  assign m_axis_tvalid = 0;\n"
                    "  assign m_axis_tdata = 0;\n  assign m_axis_tlast = 0;\nendmodule\n")
    for beats, max_idle, cycles in ((100_000, 2000, 2000), (100, 2000, 287)):
        # Stalled, or out of time first (the patterns end, and every beat could have gone
        # through long before): the same sentence.
        result = simulate(BUGGY_SPEC, beats=beats, backend="verilator", verilog=path,
                          max_idle_cycles=max_idle)
        assert not result.passed
        assert result.stopped == (f"no output beat in {cycles:,} cycles (from cycle 0); the "
                                  f"source offered a beat on {cycles:,} of them and the sink "
                                  f"was ready on {cycles:,}")
        assert result.mismatches[0].what == "lost"


def test_unsigned_8bit_relu_output_is_8_bits_and_exact_on_every_code():
    # SQ(6, 4) in, UQ(4, 4) out: the ReLU's results fill 0 to 255, all 8 bits, with no sign
    # bit; a signed 8-bit output would keep 7 of them.
    spec = Spec(kind="relu", width=10, frac=4, out_width=8, out_frac=4, out_signed=False,
                rounding="half_even", lanes=1)
    text = to_verilog(spec)
    assert re.search(r"output \[7:0\] m_axis_tdata;", text)
    assert re.search(r"reg \[7:0\] stage1_lane0_y\b", text)
    signed = to_verilog(Spec(**dict(spec.options(), out_signed=True)))
    assert re.search(r"reg \[6:0\] stage1_lane0_y\b", signed)
    codes = np.arange(-512, 512)
    ones = np.ones(1, dtype=bool)
    stim = Stimulus(codes[:, None], np.zeros(len(codes), bool), np.zeros(len(codes), np.uint64),
                    ones, ones)
    got = run_verilator(spec, stim).data[:, 0]
    # The external reference: apytypes, on every input code.
    want = [_apy_output(spec, int(c), 0) for c in codes]
    assert got.tolist() == want
    assert min(want) == 0 and max(want) == 255
