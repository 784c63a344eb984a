# SPDX-License-Identifier: Apache-2.0
"""Sweeps: run the flow over a grid of configurations and targets, in parallel, on this
machine or on a Dask cluster, and tabulate and plot the results. Points that fail (a bad
combination of options, a tool error) are kept in the results with their error, never dropped.

Results are cached by content: a point's key is the hash of everything its report depends on
(the configuration, target, speed grade, seeds, clock constraint, relu-hw's version and the
versions of the tools where the points run). A sweep that is repeated, or resumed after an
interruption, takes the points already done from the cache, whichever executor made them.
Reports are kept without their per-run fields (:data:`~.baseline.VOLATILE_KEYS`), so the
outputs are byte-identical whichever executor ran the sweep, and whatever came from the cache.
"""

import csv
import hashlib
import io
import itertools
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..files import to_json, write_files
from ..spec import Spec
from ..tools import ToolError, check_workdir, tool_scope
from .baseline import VOLATILE_KEYS
from .cluster import executor
from .report import check_flow_args, flow_tools, run_flow

__all__ = ["grid", "run_sweep", "SweepPoint", "SweepCache", "point_identity", "point_key",
           "check_point_timeout", "to_csv", "to_markdown", "plot", "write_outputs",
           "FLOW_KEYS", "DEFAULT_POINT_TIMEOUT"]

#: Grid keys that belong to the flow rather than the spec.
FLOW_KEYS = ("target", "speed")
CSV_COLUMNS = ("index", "status", "kind", "width", "lanes", "stages", "ready", "target", "speed",
               "lut", "ff", "dsp", "bram", "carry", "lut_per_bit", "ff_per_bit",
               "fmax_median", "fmax_min", "fmax_max", "options", "error")


@dataclass
class SweepPoint:
    index: int
    options: dict           # spec options of this point
    target: str
    speed: int | None
    report: dict | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)
    #: Whether the report came from the cache; not part of the outputs.
    cached: bool = False
    #: Seconds the point took where it ran (``None`` if it did not run); not in the outputs.
    seconds: float | None = None

    @property
    def ok(self):
        return self.report is not None

    def row(self):
        r, o = self.report, self.options
        spec_defaults = Spec().options()
        row = {"index": self.index, "status": "ok" if self.ok else "failed",
               "target": self.target, "speed": self.speed, "error": self.error or "",
               "options": json.dumps(o, sort_keys=True)}
        for key in ("kind", "width", "lanes", "stages", "ready"):
            row[key] = o.get(key, spec_defaults[key])
        if r:
            row.update({k: r["totals"][k] for k in ("lut", "ff", "dsp", "bram", "carry")})
            row["lut_per_bit"], row["ff_per_bit"] = (r["per_data_bit"]["lut"],
                                                     r["per_data_bit"]["ff"])
            f = r["fmax_mhz"]
            if f:
                row.update(fmax_median=f["median"], fmax_min=f["min"], fmax_max=f["max"])
            if self.speed is None:
                row["speed"] = r["target"]["speed"]
        return {c: row.get(c, "") for c in CSV_COLUMNS}

    def as_dict(self):
        return {"index": self.index, "status": "ok" if self.ok else "failed",
                "options": self.options, "target": self.target, "speed": self.speed,
                "error": self.error, "report": self.report}


def grid(values):
    """Every combination of ``values`` (``{key: [v, ...]}``, keys in order), as a list of
    dicts, each once: a value listed twice does not run its points twice."""
    keys = list(values)
    combos, seen = [], set()
    for combo in itertools.product(*(values[k] for k in keys)):
        key = json.dumps(combo, default=str)
        if key not in seen:
            seen.add(key)
            combos.append(dict(zip(keys, combo)))
    return combos


#: Seconds a point may take, synthesis and every seed's place and route together.
DEFAULT_POINT_TIMEOUT = 3600


def check_point_timeout(timeout):
    """:exc:`ValueError` unless ``timeout`` is a number of seconds above 0, at most a week."""
    if (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
            or not 0 < timeout <= 7 * 86400):
        raise ValueError(f"Point timeout must be a number of seconds above 0 and at most a "
                         f"week (604800), not {timeout!r}")


def point_identity(spec, target, speed, seeds, freq, versions):
    """Everything a point's report depends on, as a JSON-ready dict: speed grade and clock
    constraint as the flow resolves them, and ``versions`` (``{tool: version}``) of the tools
    the flow runs."""
    target_obj, speed = check_flow_args(target, speed, seeds, freq)
    if freq is None and target_obj.places:
        freq = target_obj.default_freq
    return {"relu_hw": __version__, "configuration": spec.options(), "target": target_obj.name,
            "speed": speed, "seeds": seeds, "freq": freq if target_obj.places else None,
            "tools": {name: versions[name] for name in flow_tools(target_obj)}}


def point_key(identity):
    """The cache key of a point: the SHA-256 of its :func:`point_identity`."""
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class SweepCache:
    """Reports of sweep points in ``folder``, one JSON file per key, each holding the point's
    identity and its report. An entry that can't be read, or whose identity differs, is
    missing."""

    def __init__(self, folder):
        self.folder = Path(folder)

    def get(self, key, identity):
        try:
            entry = json.loads((self.folder / f"{key}.json").read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if (not isinstance(entry, dict) or not isinstance(entry.get("report"), dict)
                or json.loads(json.dumps(identity, default=str)) != entry.get("identity")):
            return None
        return entry["report"]

    def put(self, key, identity, report):
        write_files(self.folder, {f"{key}.json": to_json({"identity": identity,
                                                          "report": report})})


def _point_task(options, target, speed, seeds, freq, folder, timeout, scope):
    """One point, where it runs: in its own work folder ``folder`` (emptied first), within
    ``timeout`` seconds, its tools in tool scope ``scope``. Returns ``(report, error,
    seconds)``; the report without its per-run fields."""
    start = time.monotonic()
    try:
        folder = check_workdir(folder)
        shutil.rmtree(folder)
        with tool_scope(scope):
            report = run_flow(Spec(**options), target, folder, speed=speed, seeds=seeds,
                              freq=freq, jobs=1, timeout=timeout)
    except (ValueError, ToolError) as e:     # a bad combination, or a tool that failed on it
        return None, str(e), time.monotonic() - start
    report = {k: v for k, v in report.items() if k not in VOLATILE_KEYS}
    return report, None, time.monotonic() - start


def run_sweep(combos, workdir, seeds=1, freq=None, jobs=1, progress=None, scheduler=None,
              cache=None, timeout=DEFAULT_POINT_TIMEOUT):
    """Run the flow for every combination (dicts of spec options plus ``target`` and optional
    ``speed``) and return :class:`SweepPoint`\\ s in grid order.

    Points run ``jobs`` at a time in threads of this process, or with ``scheduler`` on a Dask
    cluster (``local:N`` or a scheduler's address, see :mod:`.cluster`). Each point runs in
    its own folder under ``workdir`` (outside ``/tmp``; on a cluster, the same path on each
    worker), named by its key, within ``timeout`` seconds. Points that :func:`point_key` makes
    equal run once. With ``cache`` (a folder), points found there do not run (their
    :attr:`SweepPoint.cached` is set) and points that succeed are added as they finish, so an
    interrupted sweep keeps what it did. ``progress(done, total, failed)`` is called as points
    finish.
    """
    workdir = check_workdir(workdir)
    check_point_timeout(timeout)
    points = []
    for i, combo in enumerate(combos):
        options = {k: v for k, v in combo.items() if k not in FLOW_KEYS}
        points.append(SweepPoint(i, options, combo["target"], combo.get("speed")))
    for point in points:
        # Flow options are checked up front: they are the same mistake for every point.
        check_flow_args(point.target, point.speed, seeds, freq)
    store = SweepCache(cache) if cache is not None else None
    state = {"done": 0, "failed": 0}

    def finished(point):
        state["done"] += 1
        state["failed"] += not point.ok
        if progress is not None:
            progress(state["done"], len(points), state["failed"])

    with executor(scheduler, jobs) as runner:
        names = sorted({name for p in points for name in flow_tools(p.target)})
        versions = runner.tool_versions(names)
        groups = {}         # key: (identity, points)
        for point in points:
            try:
                spec = Spec(**point.options)
            except (TypeError, ValueError) as e:     # a bad combination: no tool needed
                point.error = str(e)
                finished(point)
                continue
            identity = point_identity(spec, point.target, point.speed, seeds, freq, versions)
            groups.setdefault(point_key(identity), (identity, []))[1].append(point)
        todo = []
        for key, (identity, group) in groups.items():
            report = store.get(key, identity) if store is not None else None
            if report is None:
                todo.append(key)
                continue
            for point in group:
                point.report, point.cached = report, True
                finished(point)
        scope = getattr(runner, "scope", None)
        calls = [(groups[key][1][0].options, groups[key][1][0].target, groups[key][1][0].speed,
                  seeds, freq, str(workdir / key[:16]), timeout, scope) for key in todo]

        def done(i, result):
            report, error, seconds = result
            identity, group = groups[todo[i]]
            # Recorded only if made by the tools the key names (a worker could differ).
            if store is not None and report is not None and report["tools"] == \
                    identity["tools"]:
                store.put(todo[i], identity, report)
            for point in group:
                point.report, point.error, point.seconds = report, error, seconds
                finished(point)
        runner.map(_point_task, calls, done)
    return points


def to_csv(points):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for p in points:
        writer.writerow(p.row())
    return out.getvalue()


def _varying(points):
    """Option keys whose value differs between points (what a table or plot must show)."""
    keys = {}
    for p in points:
        for k, v in {**p.options, "target": p.target, "speed": p.speed}.items():
            keys.setdefault(k, set()).add(json.dumps(v))
    return [k for k, vals in keys.items() if len(vals) > 1]


def to_markdown(points):
    ok = [p for p in points if p.ok]
    bad = [p for p in points if not p.ok]
    lines = [f"# Sweep: {len(points)} points, {len(ok)} ok, {len(bad)} failed", "",
             "| # | kind | width | lanes | stages | ready | target | lut | ff | dsp | carry "
             "| lut/bit | ff/bit | Fmax median (min-max) |",
             "|---:|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for p in ok:
        r = p.row()
        fmax = (f"{r['fmax_median']:.1f} ({r['fmax_min']:.1f}-{r['fmax_max']:.1f})"
                if r["fmax_median"] != "" else "synthesis only")
        target = r["target"] + (f" -{r['speed']}" if r["speed"] not in ("", None) else "")
        lines.append(f"| {r['index']} | {r['kind']} | {r['width']} | {r['lanes']} | "
                     f"{r['stages']} | {r['ready']} | {target} | {r['lut']} | {r['ff']} | "
                     f"{r['dsp']} | {r['carry']} | {r['lut_per_bit']:.2f} | "
                     f"{r['ff_per_bit']:.2f} | {fmax} |")
    if bad:
        lines += ["", "## Failed points", "", "| # | options | target | error |",
                  "|---:|---|---|---|"]
        for p in bad:
            lines.append(f"| {p.index} | `{json.dumps(p.options, sort_keys=True)}` | "
                         f"{p.target} | {p.error.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def plot(points, outdir):
    """PNG plots against lane count, one line per combination of the other varying options:
    ``sweep_resources.png`` (LUT and FF) and ``sweep_fmax.png``. Returns the paths written
    (none when fewer than two lane counts succeeded)."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ok = [p for p in points if p.ok]
    if len({p.options.get("lanes", Spec().lanes) for p in ok}) < 2:
        return []
    others = [k for k in _varying(ok) if k != "lanes"]
    series = {}
    for p in ok:
        r = p.row()
        label = ", ".join(f"{k}={r[k] if k in r else p.options.get(k)}" for k in others)
        series.setdefault(label or r["kind"], []).append(r)
    outdir = Path(outdir)
    written = []
    fig = Figure(figsize=(11, 4.5))
    ax_lut, ax_ff = fig.subplots(1, 2)
    for label, rows in sorted(series.items()):
        rows = sorted(rows, key=lambda r: r["lanes"])
        lanes = [r["lanes"] for r in rows]
        ax_lut.plot(lanes, [r["lut"] for r in rows], marker="o", label=label)
        ax_ff.plot(lanes, [r["ff"] for r in rows], marker="o", label=label)
    for ax, name in ((ax_lut, "LUT"), (ax_ff, "FF")):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("lanes")
        ax.set_ylabel(name)
        ax.set_title(f"{name} vs lanes")
        ax.grid(True, alpha=0.3)
    ax_lut.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(outdir / "sweep_resources.png", dpi=100)
    written.append(outdir / "sweep_resources.png")

    placed = {k: [r for r in rows if r["fmax_median"] != ""] for k, rows in series.items()}
    if any(placed.values()):
        fig = Figure(figsize=(6.5, 4.5))
        ax = fig.subplots()
        for label, rows in sorted(placed.items()):
            if not rows:
                continue
            rows = sorted(rows, key=lambda r: r["lanes"])
            lanes = [r["lanes"] for r in rows]
            ax.errorbar(lanes, [r["fmax_median"] for r in rows],
                        yerr=[[r["fmax_median"] - r["fmax_min"] for r in rows],
                              [r["fmax_max"] - r["fmax_median"] for r in rows]],
                        marker="o", capsize=3, label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("lanes")
        ax.set_ylabel("Fmax (MHz), median with min-max")
        ax.set_title("Fmax vs lanes")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
        fig.tight_layout()
        fig.savefig(outdir / "sweep_fmax.png", dpi=100)
        written.append(outdir / "sweep_fmax.png")
    return written


def write_outputs(points, outdir):
    """Write ``sweep.csv``, ``sweep.json``, ``sweep.md`` and the plots into ``outdir``."""
    outdir = Path(outdir)
    written = write_files(outdir, {
        "sweep.csv": to_csv(points),
        "sweep.json": json.dumps([p.as_dict() for p in points], indent=2) + "\n",
        "sweep.md": to_markdown(points),
    })
    return written + plot(points, outdir)
