# SPDX-License-Identifier: Apache-2.0
"""Sweeps: the grid, parallel runs with failed points kept, and the CSV, JSON, Markdown and PNG
outputs."""

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from relu_hw.flows.sweep import grid, run_sweep, write_outputs

from .interrupt import interrupt
from .workdirs import work_dir

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "relu_hw"]
WORKDIR = work_dir("test-sweep")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_grid_is_the_product_in_order():
    combos = grid({"lanes": [1, 2], "kind": ["relu", "leaky_relu"], "target": ["xilinx"]})
    assert combos == [
        {"lanes": 1, "kind": "relu", "target": "xilinx"},
        {"lanes": 1, "kind": "leaky_relu", "target": "xilinx"},
        {"lanes": 2, "kind": "relu", "target": "xilinx"},
        {"lanes": 2, "kind": "leaky_relu", "target": "xilinx"},
    ]


@pytest.fixture(scope="module")
def swept():
    combos = grid({"lanes": [1, 2, 4], "width": [8], "kind": ["relu", "leaky_relu"],
                   "target": ["ecp5-25k"]})
    # A combination the spec rejects: it must be reported, not dropped.
    combos.append({"lanes": 2, "kind": "relu", "slope": "0.5", "target": "ecp5-25k"})
    calls = []
    points = run_sweep(combos, WORKDIR / "run", seeds=1, jobs=2,
                       progress=lambda done, total, failed: calls.append((done, total, failed)))
    return combos, points, calls


def test_sweep_runs_every_point_and_keeps_failures(swept):
    combos, points, calls = swept
    assert [p.index for p in points] == list(range(len(combos)))
    ok = [p for p in points if p.ok]
    assert len(ok) == 6 and all(p.report["fmax_mhz"]["median"] > 100 for p in ok)
    (bad,) = [p for p in points if not p.ok]
    assert bad.index == 6 and "slope applies to kind leaky_relu" in bad.error
    assert calls[-1] == (7, 7, 1) and [c[0] for c in calls] == list(range(1, 8))
    # More lanes cost more: the sweep measured, not copied, each point.
    relu = {p.options["lanes"]: p.report["totals"]["ff"] for p in ok
            if p.options["kind"] == "relu"}
    assert relu[1] < relu[2] < relu[4]


def test_sweep_outputs(swept, tmp_path):
    _, points, _ = swept
    out = WORKDIR / "out"
    written = write_outputs(points, out)
    names = {p.name for p in written}
    assert names == {"sweep.csv", "sweep.json", "sweep.md", "sweep_resources.png",
                     "sweep_fmax.png"}
    for png in ("sweep_resources.png", "sweep_fmax.png"):
        assert (out / png).read_bytes()[:8] == PNG_MAGIC
    rows = list(csv.DictReader(io.StringIO((out / "sweep.csv").read_text())))
    assert len(rows) == 7 and [r["status"] for r in rows].count("failed") == 1
    row = next(r for r in rows if r["kind"] == "relu" and r["lanes"] == "4")
    point = next(p for p in points if p.ok and p.options == {"lanes": 4, "width": 8,
                                                             "kind": "relu"})
    assert int(row["lut"]) == point.report["totals"]["lut"]
    assert float(row["fmax_median"]) == point.report["fmax_mhz"]["median"]
    data = json.loads((out / "sweep.json").read_text())
    assert [d["status"] for d in data].count("ok") == 6
    md = (out / "sweep.md").read_text()
    assert md.startswith("# Sweep: 7 points, 6 ok, 1 failed") and "## Failed points" in md


def test_sweep_cli_rejects_bad_lists(tmp_path):
    for args, message in (
            (["--lanes", "1,x"], "--lanes must be a list of int values, not '1,x'"),
            (["--kind", "relu,tanh"], "--kind values must be among"),
            (["--target", "ecp5-45k,nope"], "Target must be one of"),
            (["--lanes", "1,,2"], "--lanes has an empty item in '1,,2'")):
        proc = subprocess.run([*CLI, "sweep", *args, "-o",
                               str(tmp_path / "s")], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2, args
        first, second = proc.stderr.splitlines()
        assert first.startswith("relu-hw sweep: error: ") and message in first
        assert second == "see relu-hw sweep --help"
        assert "Traceback" not in proc.stderr and not (tmp_path / "s").exists()


def test_sweep_cli_runs(tmp_path):
    proc = subprocess.run([*CLI, "sweep", "--lanes", "1,2",
                           "--width", "8", "--target", "xilinx", "--kind", "relu,prelu",
                           "-o", str(tmp_path / "s"), "--workdir",
                           str(WORKDIR / "cli")], capture_output=True, text=True, cwd=ROOT)
    # prelu needs slopes: those points fail, are listed, and make the exit status 1.
    assert proc.returncode == 1
    assert "4/4 points, 2 failed" in proc.stderr
    assert proc.stderr.count("failed (xilinx") == 2
    md = (tmp_path / "s" / "sweep.md").read_text()
    assert "4 points, 2 ok, 2 failed" in md and "needs slopes" in md
    assert (tmp_path / "s" / "sweep_resources.png").read_bytes()[:8] == PNG_MAGIC
    assert not (tmp_path / "s" / "sweep_fmax.png").exists()   # xilinx is not placed


def test_one_ctrl_c_stops_a_sweep():
    # Points still queued do not start, the running ones' tools are killed, nothing is written.
    workdir, out = WORKDIR / "interrupted", WORKDIR / "interrupted-out"
    code, err, seconds, left = interrupt(
        ["sweep", "--lanes", "1,2,4,8,16,32", "--kind", "relu,leaky_relu", "--target",
         "ecp5-45k", "-o", str(out), "--workdir", str(workdir)], after=1, cwd=ROOT,
        workdir=workdir)
    assert code == 130 and err.splitlines()[-1] == "relu-hw sweep: interrupted"
    assert seconds < 2 and left == [] and not out.exists()


def test_duplicate_points_run_once():
    assert grid({"lanes": [1, 1, 2], "target": ["xilinx", "xilinx"]}) == [
        {"lanes": 1, "target": "xilinx"}, {"lanes": 2, "target": "xilinx"}]
