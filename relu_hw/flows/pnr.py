# SPDX-License-Identifier: Apache-2.0
"""Place and route with nextpnr, and parsing of its ``--report`` JSON."""

import json
from dataclasses import dataclass

from ..tools import check_workdir, run_yowasp

__all__ = ["PnrResult", "place_and_route", "parse_report", "summarize_path"]


@dataclass
class PnrResult:
    """One placement seed: ``fmax`` (MHz, the slowest clock), ``clock``, ``constraint`` (MHz),
    ``critical_path`` (see :func:`summarize_path`), ``utilization`` (used resources only)."""
    seed: int
    fmax: float | None
    clock: str | None
    constraint: float | None
    critical_path: dict | None
    utilization: dict
    report: str

    def as_dict(self):
        return {"seed": self.seed, "fmax_mhz": self.fmax, "clock": self.clock,
                "constraint_mhz": self.constraint, "critical_path": self.critical_path,
                "utilization": self.utilization, "report": self.report}


def summarize_path(path):
    """A nextpnr critical path (a ``critical_paths`` entry) as ``start``, ``end`` (``cell.port``),
    ``logic_ns`` (clock-to-out, cell and setup delays), ``routing_ns``, ``total_ns``,
    ``logic_levels`` (cells passed through) and the ``steps``."""
    steps = path["path"]
    if not steps:
        raise ValueError("Critical path has no steps")
    logic = sum(s["delay"] for s in steps if s["type"] != "routing")
    routing = sum(s["delay"] for s in steps if s["type"] == "routing")

    def where(end):
        return f"{end['cell']}.{end['port']}"
    return {
        "from_clock": path.get("from"), "to_clock": path.get("to"),
        "start": where(steps[0]["from"]), "end": where(steps[-1]["to"]),
        "logic_ns": round(logic, 3), "routing_ns": round(routing, 3),
        "total_ns": round(logic + routing, 3),
        "logic_levels": sum(1 for s in steps if s["type"] == "logic"),
        "steps": [{"type": s["type"], "delay_ns": round(s["delay"], 3),
                   "from": where(s["from"]), "to": where(s["to"]),
                   **({"net": s["net"]} if "net" in s else {})} for s in steps],
    }


def parse_report(report):
    """``(clock, fmax, constraint, critical_path, utilization)`` from a nextpnr ``--report``
    dict. With several clocks the slowest one is taken; the critical path is that clock's
    register-to-register path (``None`` if the design has no clocked path)."""
    fmax = report.get("fmax") or {}
    if fmax:
        clock = min(fmax, key=lambda c: fmax[c]["achieved"])
        achieved, constraint = fmax[clock]["achieved"], fmax[clock].get("constraint")
    else:
        clock = achieved = constraint = None
    path = None
    for candidate in report.get("critical_paths", []):
        edges = (candidate.get("from", ""), candidate.get("to", ""))
        if clock is not None and all(e.split()[-1:] == [clock] for e in edges):
            path = summarize_path(candidate)
            break
    utilization = {name: u for name, u in sorted(report.get("utilization", {}).items())
                   if u.get("used")}
    return clock, achieved, constraint, path, utilization


def place_and_route(target, netlist, workdir, seed=1, freq=None, speed=None, timeout=None):
    """Place and route ``netlist`` (a path relative to ``workdir``) with ``seed``, asking for
    ``freq`` MHz (default the target's), within ``timeout`` seconds if given. Timing failure
    is not an error: the achieved Fmax is the result."""
    workdir = check_workdir(workdir)
    freq = target.default_freq if freq is None else freq
    speed = target.check_speed(speed)
    report = f"pnr.seed{seed}.json"
    args = [*target.pnr_args(speed), "--json", netlist, "--report", report,
            "--seed", str(seed), "--freq", f"{freq:g}", "--timing-allow-fail"]
    if target.family == "ice40":
        args.append("--pcf-allow-unconstrained")
    run_yowasp(target.pnr, args, workdir, log=f"pnr.seed{seed}.log", timeout=timeout)
    clock, fmax, constraint, path, util = parse_report(json.loads((workdir / report)
                                                                  .read_text()))
    return PnrResult(seed=seed, fmax=fmax, clock=clock, constraint=constraint,
                     critical_path=path, utilization=util, report=report)
