# SPDX-License-Identifier: Apache-2.0
"""Baselines of record: reports for a small fixed set of configurations and targets, checked in
under ``fpga/``; a comparison of fresh runs against them; and the results table generated from
them.

``fpga/baselines.toml`` lists the points (``[[baseline]]`` tables with ``id``, ``target``,
optional ``speed`` and ``seeds``, and a ``config`` table of :class:`~relu_hw.spec.Spec`
options). ``fpga/reports/<id>.json`` holds each point's report; ``fpga/RESULTS.md`` the table.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

from ..files import read_toml, to_json, write_files
from ..spec import Spec
from .report import DEFAULT_SEEDS, check_flow_args, run_flow

__all__ = ["Point", "load_points", "compare", "record", "record_differs", "results_table",
           "FMAX_TOLERANCE", "REGENERATE_COMMAND", "VOLATILE_KEYS"]

#: A fresh median Fmax this fraction below the baseline's is a regression.
FMAX_TOLERANCE = 0.10
REGENERATE_COMMAND = "relu-hw baseline --update"
#: Report fields that change from run to run and are not recorded.
VOLATILE_KEYS = ("seconds", "workdir")
#: What a baseline id may be made of: it names a file.
_ID = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Point:
    id: str
    target: str
    config: dict
    speed: int | None = None
    seeds: int = DEFAULT_SEEDS

    @property
    def spec(self):
        return Spec(**self.config)


def load_points(directory):
    """The points of ``directory/baselines.toml``; :exc:`ValueError` names what is wrong."""
    path = Path(directory) / "baselines.toml"
    table = read_toml(path)
    points, seen = [], set()
    for entry in table.get("baseline", []):
        try:
            point = Point(id=entry["id"], target=entry["target"], config=dict(entry["config"]),
                          speed=entry.get("speed"), seeds=entry.get("seeds", DEFAULT_SEEDS))
        except KeyError as e:
            raise ValueError(f"{path}: a [[baseline]] lacks {e.args[0]!r}") from None
        if not isinstance(point.id, str) or not _ID.fullmatch(point.id) or point.id in (".",
                                                                                      ".."):
            raise ValueError(f"{path}: baseline id must be letters, digits, '_', '.' or '-', "
                             f"not {point.id!r}")
        if point.id in seen:
            raise ValueError(f"{path}: baseline id {point.id!r} appears twice")
        seen.add(point.id)
        try:
            check_flow_args(point.target, point.speed, point.seeds)
            point.spec
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: baseline {point.id!r}: {e}") from None
        points.append(point)
    if not points:
        raise ValueError(f"{path} defines no [[baseline]] points")
    return points


def run_point(point, workdir, jobs=1):
    report = run_flow(point.spec, point.target, Path(workdir) / point.id, speed=point.speed,
                      seeds=point.seeds, jobs=jobs)
    return {k: v for k, v in report.items() if k not in VOLATILE_KEYS}


def report_path(directory, point_id):
    return Path(directory) / "reports" / f"{point_id}.json"


def record(directory, point_id, report):
    """Write ``report`` as the baseline of ``point_id`` under ``directory``."""
    path = report_path(directory, point_id)
    write_files(path.parent, {path.name: to_json(report)})
    return path


def load_report(directory, point_id):
    path = report_path(directory, point_id)
    try:
        report = json.loads(path.read_text())
    except OSError:
        raise ValueError(f"No baseline report {path}; run {REGENERATE_COMMAND}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"The baseline report {path} is not valid JSON ({e}); run "
                         f"{REGENERATE_COMMAND}") from None
    for key in ("configuration", "target", "totals"):
        if not isinstance(report, dict) or key not in report:
            raise ValueError(f"The baseline report {path} has no {key!r}; run "
                             f"{REGENERATE_COMMAND}")
    return report


#: Options added after records were made, with the value every older record was made with.
_ADDED_OPTIONS = {"signed": True, "out_signed": True}


def record_differs(point, report):
    """Sentences naming each way the recorded ``report`` was made for another point than
    ``point`` (configuration, target, speed, seeds); empty when it is this point's."""
    problems = []
    recorded, current = report["configuration"], point.spec.options()
    for key in sorted(set(recorded) | set(current)):
        was = recorded.get(key, _ADDED_OPTIONS.get(key))
        if was != current.get(key):
            problems.append(f"{key} is {was!r} in the record and {current.get(key)!r} in "
                            f"baselines.toml")
    target = report["target"]
    if target.get("name") != point.target:
        problems.append(f"the target is {target.get('name')!r} in the record and "
                        f"{point.target!r} in baselines.toml")
    if point.speed is not None and target.get("speed") != point.speed:
        problems.append(f"the speed grade is {target.get('speed')!r} in the record and "
                        f"{point.speed!r} in baselines.toml")
    seeds = len((report.get("fmax_mhz") or {}).get("seeds", {})) or None
    if seeds is not None and seeds != point.seeds:
        problems.append(f"the record has {seeds} seeds and baselines.toml asks for "
                        f"{point.seeds}")
    return problems


def compare(baseline, fresh, tolerance=FMAX_TOLERANCE, timing=True):
    """Regressions of ``fresh`` against ``baseline`` (two reports), as sentences: any growth of
    the LUT or flip-flop count, and a median Fmax more than ``tolerance`` below the
    baseline's (only with ``timing``: pass ``False`` for a fresh run that was not placed). An
    empty list means no regression."""
    problems = []
    for key, label in (("lut", "LUT"), ("ff", "flip-flop")):
        old, new = baseline["totals"][key], fresh["totals"][key]
        if new > old:
            problems.append(f"{label} count grew from {old} to {new}")
    old_f, new_f = baseline.get("fmax_mhz"), fresh.get("fmax_mhz")
    if not timing:
        return problems
    if old_f and not new_f:
        problems.append(f"Fmax is missing (baseline median {old_f['median']:.1f} MHz)")
    elif old_f and new_f and new_f["median"] < (1 - tolerance) * old_f["median"]:
        problems.append(f"median Fmax fell from {old_f['median']:.1f} to "
                        f"{new_f['median']:.1f} MHz, more than {tolerance:.0%} below the "
                        f"baseline")
    return problems


def _describe(cfg):
    text = f"{cfg['kind']} {cfg['width']}-bit x{cfg['lanes']}, ready {cfg['ready']}"
    if cfg.get("stages", 1) != 1:
        text += f", {cfg['stages']} stages"
    if cfg.get("slope") is not None:
        text += f", slope {cfg['slope']}"
    if cfg.get("slope_impl", "auto") != "auto":
        text += f" ({cfg['slope_impl']})"
    if cfg.get("zeroing", "auto") != "auto":
        text += f", zeroing {cfg['zeroing']}"
    if cfg.get("channels") not in (None, cfg["lanes"]):
        text += f", {cfg['channels']} channels"
    if cfg.get("control", "none") != "none":
        text += f", control {cfg['control']}"
    if cfg.get("runtime"):
        text += f", runtime {'/'.join(cfg['runtime'])}"
    return text


def results_table(directory):
    """Markdown of ``directory``'s recorded reports: the "Resources and timing" table."""
    points = load_points(directory)
    reports = [(p, load_report(directory, p.id)) for p in points]
    tools = sorted({v for _, r in reports for v in r["tools"].values()})
    lines = [
        "# Resources and timing", "",
        f"Generated from the reports of record in `fpga/reports/` by `relu-hw baseline "
        f"--table` (regenerate the reports and this table with `{REGENERATE_COMMAND}`). "
        f"Not typed by hand.", "",
        "| configuration | target | LUT | FF | DSP | carry | LUT/bit | FF/bit "
        "| Fmax MHz median (min-max, seeds) | notes |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for point, r in reports:
        t, tgt, f = r["totals"], r["target"], r["fmax_mhz"]
        target = tgt["name"] + (f" -{tgt['speed']}" if tgt["speed"] is not None else "")
        fmax = (f"{f['median']:.1f} ({f['min']:.1f}-{f['max']:.1f}, {len(f['seeds'])})"
                if f else "synthesis only")
        notes = []
        if tgt["out_of_context"]:
            notes.append("out of context")
        if tgt["harness"]:
            notes.append("in harness (ports exceed pins)")
        cfg = r["configuration"]
        if "slope" in (cfg.get("runtime") or ()):
            notes.append("slope a register (multiplier)")
        elif cfg.get("channels") not in (None, cfg["lanes"]):
            notes.append("slope chosen by channel (multiplier)")
        elif r.get("slope_impls"):
            notes.append("slope " + "/".join(r["slope_impls"]))
        if t.get("bram"):
            notes.append(f"{t['bram']} block RAM")
        lines.append(f"| {_describe(r['configuration'])} | {target} | {t['lut']} | {t['ff']} | "
                     f"{t['dsp']} | {t['carry']} | {r['per_data_bit']['lut']:.2f} | "
                     f"{r['per_data_bit']['ff']:.2f} | {fmax} | {', '.join(notes)} |")
    lines += ["", "LUT counts ECP5 PFUMX/L6MUX21 as LUTs; carry counts CCU2C (ECP5), SB_CARRY "
              "(iCE40) or CARRY4 (xilinx) cells. Per-bit figures divide by lanes x width. Fmax "
              "is the router's achieved maximum for the block's clock with the constraint set "
              "above reach; placed out of context (ECP5), paths to and from ports are not "
              "timed.", "", "Tools: " + "; ".join(tools), ""]
    return "\n".join(lines)


README_BEGIN = "<!-- resources-and-timing: generated by relu-hw baseline --table -->"
README_END = "<!-- end of resources-and-timing -->"


def readme_block(directory):
    """The README's copy of the table: everything of :func:`results_table` but its title."""
    body = results_table(directory).split("\n", 2)[2]
    return f"{README_BEGIN}\n{body.strip()}\n{README_END}"


def write_table(directory, readme=None):
    """Write ``directory/RESULTS.md``; also replace the generated block of ``readme`` (between
    :data:`README_BEGIN` and :data:`README_END`) when given. Returns the paths written."""
    path = Path(directory) / "RESULTS.md"
    path.write_text(results_table(directory))
    written = [path]
    if readme is not None:
        readme = Path(readme)
        text = readme.read_text()
        start, end = text.find(README_BEGIN), text.find(README_END)
        if start < 0 or end < start:
            raise ValueError(f"{readme} has no generated resources-and-timing block "
                             f"({README_BEGIN!r} ... {README_END!r})")
        readme.write_text(text[:start] + readme_block(directory) +
                          text[end + len(README_END):])
        written.append(readme)
    return written
