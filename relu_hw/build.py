# SPDX-License-Identifier: Apache-2.0
"""The main job: Verilog, manifest, two simulations against the golden model and a synthesis
summary, written as one set of files with a report."""

import os
from dataclasses import dataclass
from pathlib import Path

from .files import to_json, write_files
from .flows import DEFAULT_TARGET, flow_workdir, report_markdown, run_flow
from .flows.report import check_flow_args
from .generate import manifest, to_verilog
from .regdocs import regmap_files
from .sim import simulate
from .sim.stimulus import MAX_IDLE_CYCLES
from .spec import KINDS, OVERFLOW_MODES, ROUNDING_MODES, Spec
from .tools import ToolError

__all__ = ["BuildResult", "build"]


@dataclass
class BuildResult:
    """What :func:`build` made.

    Attributes
    ----------
    spec : Spec
    full_rate, random_handshakes : SimReport
        The simulation at full rate, and under random valid and ready.
    synthesis : dict or None
        The flow report (:func:`~relu_hw.flows.run_flow`); ``None`` when skipped or failed.
    synthesis_target : str
        The synthesis target, ``"none"`` when skipped.
    synthesis_error : str or None
        Why synthesis failed.
    verilog : str or None
        The Verilog file checked instead of the generated one, if any.
    files : dict
        ``{filename: text}`` written into the output folder.
    written : list of Path
    """
    spec: Spec
    full_rate: object
    random_handshakes: object
    synthesis: dict | None
    synthesis_target: str
    synthesis_error: str | None
    verilog: str | None
    files: dict
    written: list

    @property
    def passed(self):
        """Both simulations passed, and synthesis ran if it was asked for."""
        return (self.full_rate.passed and self.random_handshakes.passed
                and self.synthesis_error is None)

    @property
    def report(self):
        """The report as a JSON-ready dict (what ``<name>.report.json`` holds)."""
        return {
            "manifest": manifest(self.spec),
            "verilog": self.verilog or f"{self.spec.name}.v (generated)",
            "simulation": {"full_rate": self.full_rate.as_dict(),
                           "random_handshakes": self.random_handshakes.as_dict()},
            "synthesis": self.synthesis,
            "synthesis_error": self.synthesis_error,
        }

    @property
    def markdown(self):
        """The report for people (what ``<name>.report.md`` holds)."""
        return _markdown(self)


def build(spec, output="build", beats=2000, seed=0, valid_prob=0.7, ready_prob=0.7,
          synth_target=DEFAULT_TARGET, vcd=None, backend="amaranth", verilog=None, top=None,
          max_idle_cycles=MAX_IDLE_CYCLES, progress=None, writes=()):
    """Generate, simulate (at full rate, then with valid and ready at the given
    probabilities), synthesize for ``synth_target`` (``"none"`` skips it) and write
    ``<name>.v``, ``<name>.json``, ``<name>.report.json`` and ``<name>.report.md`` into
    ``output``, all at the end and as one set. Returns a :class:`BuildResult`.

    With ``verilog`` (a file, on the Verilator backend) the simulations check that file
    instead of the generated Verilog (``top`` names its module if need be); the report names
    it, and no ``<name>.v`` is written.

    A block with control also gets its register map's files (:mod:`relu_hw.regdocs`), and
    its simulations read its counters back (the report gives them); ``writes`` are register
    writes applied in both simulations (see :func:`~relu_hw.sim.simulate`).

    ``progress``, if given, is called with ``(step, done, total)`` as simulation goes.
    Raises :exc:`ValueError` for a bad target; a tool failure in synthesis is reported in the
    result (``synthesis_error``), which then does not pass.
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
    if synth_target != "none":
        check_flow_args(synth_target)
    files = {} if verilog is not None else {f"{spec.name}.v": to_verilog(spec)}
    if spec.control != "none":
        files.update(regmap_files(spec))

    def step(name):
        return None if progress is None else (lambda done: progress(name, done, beats))
    full = simulate(spec, beats=beats, seed=seed, backend=backend, verilog=verilog, top=top,
                    max_idle_cycles=max_idle_cycles, progress=step("full rate"), writes=writes)
    stressed = simulate(spec, beats=beats, seed=seed, valid_prob=valid_prob,
                        ready_prob=ready_prob, vcd=vcd, backend=backend, verilog=verilog,
                        top=top, max_idle_cycles=max_idle_cycles,
                        progress=step("random handshakes"), writes=writes)
    synthesis = error = None
    if synth_target != "none":
        workdir = flow_workdir(f"{spec.name}.{synth_target}", spec, output)
        try:
            synthesis = run_flow(spec, synth_target, workdir, jobs=os.cpu_count() or 1)
        except ToolError as e:
            error = str(e)
    result = BuildResult(spec, full, stressed, synthesis, synth_target, error,
                         None if verilog is None else str(verilog), {}, [])
    result.files = {
        **files,
        f"{spec.name}.json": to_json(manifest(spec)),
        f"{spec.name}.report.json": to_json(result.report),
        f"{spec.name}.report.md": result.markdown,
    }
    result.written = write_files(Path(output), result.files)
    return result


def _markdown(result):
    spec = result.spec
    rows = [
        ("kind", f"{spec.kind}: {KINDS[spec.kind]}"),
        ("lanes", spec.lanes),
        ("input", f"{spec.input_format} ({spec.width} bits, {spec.frac} fractional)"),
        ("output", f"{spec.output_format} ({spec.out_width} bits, {spec.out_frac} fractional)"),
        ("rounding", f"{spec.rounding} "
                     f"({ROUNDING_MODES[spec.rounding].ap_fixed or 'no ap_fixed mode'})"),
        ("overflow", f"{spec.overflow} ({OVERFLOW_MODES[spec.overflow]})"),
        ("pipeline", f"{spec.stages} stage(s), latency {spec.latency}, ready {spec.ready}"),
    ]
    if spec.channels != spec.lanes:
        rows.append(("channels", f"{spec.channels} ({spec.channel_groups} beats per round)"))
    if spec.control != "none":
        runtime = ", ".join(spec.runtime) or "none"
        rows.append(("control", f"AXI4-Lite (s_axil_*); runtime parameters: {runtime}; "
                                f"register map `{spec.name}.regmap.json`"))
    consts = spec.constants()
    for k, q in enumerate(consts.get("slopes", [])):
        if spec.kind == "leaky_relu" and k:
            break
        label = "slope" if spec.kind == "leaky_relu" else f"slope[{k}]"
        rows.append((label, f"{q['requested']} -> {q['value']} (error {q['error']}, "
                            f"relative {q['relative_error']:.2e}, {q['impl']})"))
    for name in ("threshold", "max_value", "scale"):
        if name in consts:
            q = consts[name]
            exact = "; every input code rounds as with the exact scale" if name == "scale" else ""
            rows.append((name, f"{q['requested']} -> {q['value']} (error {q['error']}{exact})"))
    if "alpha" in consts:
        rows.append(("alpha", f"{consts['alpha']} (exact)"))
    t = manifest(spec)["table"]
    if t is not None:
        offset = f", each plus {t['offset']}" if t["offset"] else ""
        rows.append(("table", f"{t['entries']} entries of {t['bits']} bits per lane "
                              f"({t['total_bits']} bits{offset}); input codes below "
                              f"{t['bound_code']} ({t['bound']}) give {t['constant']}"))
    ports = ", ".join(f"{n}[{p['width']}]" for n, p in manifest(spec)["ports"].items())
    out = [f"# {spec.name}", "", "| parameter | value |", "|---|---|"]
    out += [f"| {k} | {v} |" for k, v in rows]
    checked = (f"Verilog checked: `{result.verilog}` (not generated)" if result.verilog
               else f"Verilog: `{spec.name}.v` (generated)")
    out += ["", f"Ports: {ports}", "", checked, "", "## Simulation against the golden model",
            ""]
    for title, sim in (("Full rate", result.full_rate),
                       ("Random handshakes", result.random_handshakes)):
        out += [f"### {title}", "", "```", sim.summary(), "```", ""]
    text = "\n".join(out)
    if result.synthesis is not None:
        body = report_markdown(result.synthesis).split("\n", 2)[2]   # build has its own title
        text += f"\n## Synthesis ({result.synthesis_target})\n\n{body}"
    elif result.synthesis_error is not None:
        text += (f"\n## Synthesis ({result.synthesis_target})\n\n"
                 f"Failed: {result.synthesis_error}\n")
    return text
