# SPDX-License-Identifier: Apache-2.0
"""Formal proofs of the pipeline (relu_hw.formal) and the ``relu-hw verify`` command."""

from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.sim import Simulator

from relu_hw.cli import main
from relu_hw.gateware.datapath import format_shape
from relu_hw.formal import (FORMAL_CONFIGS, REGISTERED_READY, FormalHarness, prove, prove_all,
                            spec_holds)
from relu_hw.golden import golden
from relu_hw.spec import KINDS, OVERFLOW_MODES, ROUNDING_MODES, Spec

from . import mutants
from .interrupt import PROMPT_SECONDS, interrupt
from .workdirs import ROOT, work_dir

# The YoWASP tools can't see the host's /tmp (pytest's tmp_path): work under the build folder.
WORKDIR = work_dir("test-formal")


class _Holds(Elaboratable):
    """spec_holds for an input code x and a candidate output code y, in every lane."""

    def __init__(self, spec):
        self.spec = spec
        self.x = Signal(format_shape(spec.input_format))
        self.y = Signal(format_shape(spec.output_format))
        self.ok = [Signal(name=f"ok{k}") for k in range(spec.lanes)]

    def elaborate(self, platform):
        m = Module()
        m.d.comb += [ok.eq(spec_holds(self.spec, k, self.x, self.y))
                     for k, ok in enumerate(self.ok)]
        return m


def _accepted(spec):
    """``{(x, lane): [y accepted]}`` over every input and every output code."""
    dut = _Holds(spec)
    fin, fout = spec.input_format, spec.output_format
    found = {}

    async def bench(ctx):
        for x in range(fin.min_code, fin.max_code + 1):
            ctx.set(dut.x, x)
            for y in range(fout.min_code, fout.max_code + 1):
                ctx.set(dut.y, y)
                for k, ok in enumerate(dut.ok):
                    if ctx.get(ok):
                        found.setdefault((x, k), []).append(y)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return found


# Small formats, so that every (input, output) pair is tried: 6-bit inputs, 4- and 5-bit
# outputs, every rounding and overflow mode, ties both ways (slope -0.37 on 3 fractional
# bits), wrap across several turns, a clip, thresholds, per-lane slopes; unsigned outputs
# (below zero is out of range) and unsigned inputs, in every overflow mode.
_CONTRACT_SPECS = (
    [dict(kind="leaky_relu", width=6, frac=3, out_width=4, out_frac=1, slope="-0.37",
          rounding=r, overflow=o) for r in ROUNDING_MODES for o in OVERFLOW_MODES]
    + [dict(kind="leaky_relu", width=6, frac=3, out_width=4, out_frac=2, out_signed=False,
            slope="0.37", rounding=r, overflow=o)
       for r, o in zip(ROUNDING_MODES, list(OVERFLOW_MODES) * 3)]
    + [dict(kind="relu", width=5, frac=1, signed=False, out_width=4, out_frac=0,
            out_signed=o != "saturate_symmetric", max_value="13.5", rounding=r, overflow=o)
       for r, o in zip(("half_even", "ceil", "away", "half_away"), OVERFLOW_MODES)]
    + [dict(kind="relu", width=6, frac=1, out_width=5, out_frac=3, max_value="5.3"),
       dict(kind="thresholded_relu", width=6, frac=3, threshold="-1.3", out_width=4,
            out_frac=1, rounding="half_even"),
       dict(kind="thresholded_relu", width=6, frac=1, threshold="100"),
       dict(kind="prelu", width=6, frac=2, slopes=("3/8", "-1.25", "0"), lanes=3,
            out_width=4, out_frac=0, rounding="half_away", overflow="wrap"),
       dict(kind="leaky_relu", width=6, frac=0, out_width=5, out_frac=3, slope="1/3",
            slope_frac=6, rounding="toward_zero", overflow="wrap")]
)


@pytest.mark.parametrize("config", _CONTRACT_SPECS, ids=lambda c: "-".join(
    str(c.get(k, "")) for k in ("kind", "rounding", "overflow", "signed", "out_signed")))
def test_contract_accepts_exactly_the_golden_output(config):
    # The proofs' contract is a relation, not a computation; on every input it must accept
    # the golden model's output and no other code.
    spec = Spec(**{"lanes": 1, **config})
    fin = spec.input_format
    codes = np.arange(fin.min_code, fin.max_code + 1)
    want = golden(spec, np.repeat(codes[:, None], spec.lanes, axis=1))
    found = _accepted(spec)
    for n, x in enumerate(codes):
        for k in range(spec.lanes):
            assert found.get((int(x), k)) == [int(want[n, k])], (int(x), k)


def test_builtin_configurations_prove():
    specs = {name: Spec(**config) for name, config in FORMAL_CONFIGS.items()}
    # Several configurations: multi-lane, both ready modes, several stage counts.
    assert {s.ready for s in specs.values()} == {"registered", "combinational"}
    assert max(s.lanes for s in specs.values()) >= 5
    assert max(s.stages for s in specs.values()) >= 3
    assert {s.kind for s in specs.values()} == set(KINDS)
    results = prove_all(specs, workdir=WORKDIR, jobs=2)
    for r in results:
        assert r.passed, r.summary() + "\n" + r.log_tail
        assert r.status == "PASS" and not r.failed and not r.traces
        assert "successful proof by k-induction" in \
            (r.workdir / "job" / "logfile.txt").read_text()


def test_failure_names_property_and_trace():
    mutant = next(mu for mu in mutants.MUTANTS if mu.name == "valid_waits")
    spec = mutant.spec
    result = prove(spec, name="failing_valid_waits", workdir=WORKDIR,
                   dut=mutant.pipeline_class()(spec))
    assert not result.passed
    assert result.status == "FAIL" and result.returncode == 2
    assert result.failed == ["head presented within stages cycles"]
    assert result.traces and all(t.is_file() and t.suffix == ".vcd" for t in result.traces)
    assert "counterexample trace: " + str(result.traces[0]) in result.summary()


def test_combinational_ready_path_fails_registered_mode():
    mutant = next(mu for mu in mutants.MUTANTS if mu.name == "comb_ready")
    spec = mutant.spec
    result = prove(spec, name="failing_comb_ready", workdir=WORKDIR,
                   dut=mutant.pipeline_class()(spec))
    # Functionally the mutant is right (it is the combinational-ready design): only the
    # structure fails.
    assert not result.passed and REGISTERED_READY in result.failed
    assert result.failed == [REGISTERED_READY]
    assert REGISTERED_READY in result.summary()


def _processes_under(path):
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if str(cmdline.resolve()).startswith(str(path)):
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


def test_timeout_kills_solvers():
    # A 16-bit multiplier takes minutes; three seconds are not enough, and nothing may be left
    # running afterwards (sby starts its solvers in process groups of their own).
    spec = Spec(kind="leaky_relu", width=16, frac=8, slope="0.01", lanes=1, stages=2)
    result = prove(spec, name="timeout", workdir=WORKDIR, timeout=3)
    assert result.status == "TIMEOUT" and not result.passed
    assert _processes_under(WORKDIR / "timeout") == []


def test_harness_rejects_non_spec_and_tmp_workdir():
    with pytest.raises(TypeError, match="Spec must be a relu_hw.Spec"):
        FormalHarness("relu")
    with pytest.raises(ValueError, match="outside /tmp"):
        prove(Spec(width=8, lanes=1), workdir="/tmp/relu-hw-formal")
    with pytest.raises(ValueError, match="Proof name"):
        prove(Spec(width=8, lanes=1), name="a/b", workdir=WORKDIR)


def test_harness_names_missing_pipeline_register():
    mutant = mutants.Mutant(
        "renamed", "skid flag renamed", "pipeline",
        (('flags("skid_full")', 'flags("skid_flag")'),),
        dict(kind="relu", width=8, lanes=1), "formal")
    spec = mutant.spec
    with pytest.raises(LookupError, match="skid_full"):
        prove(spec, name="renamed", workdir=WORKDIR, dut=mutant.pipeline_class()(spec))


def test_cli_verify_formal(capsys):
    assert main(["verify", "--formal", "--proof", "relu_1lane_registered",
                 "--workdir", str(WORKDIR)]) == 0
    out = capsys.readouterr().out
    assert "relu_1lane_registered: PASS" in out and "1/1 proofs passed" in out


def test_cli_verify_custom_configuration_json(capsys):
    import json
    assert main(["verify", "--formal", "--kind", "leaky_relu", "--slope", "0.25", "--width",
                 "6", "--frac", "2", "--lanes", "2", "--ready", "combinational",
                 "--workdir", str(WORKDIR), "--json"]) == 0
    [result] = json.loads(capsys.readouterr().out)
    assert result["name"] == "leaky_relu_axis" and result["passed"] is True


def test_cli_verify_usage_errors(capsys):
    for argv, message in (
            (["verify"], "say which verification to run: --formal"),
            (["verify", "--formal", "--proof", "relu_1lane_registered", "--kind", "relu"],
             "give either configuration options or --proof, not both"),
            (["verify", "--formal", "--workdir", "/tmp/x", "--proof", "relu_1lane_registered"],
             "--workdir: Work folder must be outside /tmp, because the YoWASP tools see a "
             "private /tmp of their own, not '/tmp/x'")):
        assert main(argv) == 2
        assert capsys.readouterr().err.splitlines() == [f"relu-hw verify: error: {message}",
                                                        "see relu-hw verify --help"]


def test_one_ctrl_c_stops_a_long_proof_and_every_solver():
    # A 24-bit multiplier takes the solver far longer than this test waits. One SIGINT to the
    # command's process group must end it at once, with sby, smtbmc and the solvers gone.
    workdir = WORKDIR / "interrupted"
    code, err, seconds, left = interrupt(
        ["verify", "--formal", "--width", "24", "--lanes", "2", "--kind", "leaky_relu",
         "--slope", "0.1", "--slope-impl", "multiplier", "--jobs", "1", "--workdir",
         str(workdir)], after=4, cwd=ROOT, workdir=workdir)
    assert code == 130 and err == "relu-hw verify: interrupted\n"
    assert seconds < PROMPT_SECONDS and left == []


def test_sigterm_to_the_command_alone_stops_a_long_proof_and_every_solver():
    # The solvers are in process groups of their own and get no signal: the command must
    # kill them before it ends.
    workdir = WORKDIR / "terminated"
    code, err, seconds, left = interrupt(
        ["verify", "--formal", "--width", "24", "--lanes", "2", "--kind", "leaky_relu",
         "--slope", "0.1", "--slope-impl", "multiplier", "--jobs", "1", "--workdir",
         str(workdir)], after=4, cwd=ROOT, workdir=workdir, terminate=True)
    assert code == 143 and err == "relu-hw verify: terminated\n"
    assert seconds < PROMPT_SECONDS and left == []
