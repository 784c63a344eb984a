# SPDX-License-Identifier: Apache-2.0
"""The examples of using the block inside other designs: the Amaranth design in
``examples/amaranth_design.py``, simulated, and the LiteX snippet of the README, checked
against the generated Verilog's ports (LiteX itself is not installed for the tests)."""

import ast
import importlib.util
import re
from pathlib import Path

import numpy as np
from amaranth.sim import Simulator

from relu_hw.generate import ports
from relu_hw.golden import golden
from relu_hw.spec import Spec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}",
                                                  ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _readme_block(marker):
    """The README's Python code block that contains ``marker``."""
    blocks = [b for b in re.findall(r"```python\n(.*?)```", README, re.S) if marker in b]
    assert len(blocks) == 1, f"one README block with {marker!r}"
    return blocks[0]


def test_amaranth_design_simulates_against_the_golden_model():
    example = _example("amaranth_design")
    spec, bias, beats = example.SPEC, -96, 300
    dut = example.BiasedActivation(spec, bias=bias)
    rng = np.random.default_rng(7)
    x = rng.integers(-(1 << 15), 1 << 15, size=(beats, spec.lanes))
    last = rng.random(beats) < 0.2
    # BiasAdd wraps to 16 bits; then the Leaky ReLU.
    expected = golden(spec, (x + bias + (1 << 15)) % (1 << 16) - (1 << 15))
    got = []

    async def producer(ctx):
        for n in range(beats):
            while rng.random() < 0.3:       # idle cycles
                await ctx.tick()
            for k in range(spec.lanes):
                ctx.set(dut.i.payload.data[k], int(x[n, k]))
            ctx.set(dut.i.payload.last, bool(last[n]))
            ctx.set(dut.i.valid, 1)
            await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)

    async def consumer(ctx):
        while len(got) < beats:
            ctx.set(dut.o.ready, bool(rng.random() < 0.6))
            _, _, valid, ready, payload = await ctx.tick().sample(dut.o.valid, dut.o.ready,
                                                                  dut.o.payload)
            if valid and ready:
                got.append(([int(v) for v in payload.data], bool(payload.last)))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run_until(1e-8 * beats * 8)
    assert len(got) == beats
    assert [g[0] for g in got] == expected.tolist()
    assert [g[1] for g in got] == last.tolist()


def test_readme_shows_the_amaranth_design_as_it_is():
    block = _readme_block("class BiasedActivation")
    assert block.strip() in (ROOT / "examples" / "amaranth_design.py").read_text()


def test_litex_snippet_matches_the_generated_ports():
    block = _readme_block("platform.add_source")
    ast.parse(block)
    command = re.search(r"relu-hw generate ([^`]*)-o (\S+)`", block)
    assert command, "the snippet names the command that made the Verilog"
    options = dict(re.findall(r"--([\w-]+) (\S+)", command[1]))
    spec = Spec(**{k.replace("-", "_"): int(v) for k, v in options.items()})
    assert f'platform.add_source("{command[2]}/{spec.name}.v")' in block
    assert f'Instance(\n            "{spec.name}",' in block
    connected = {name: "input" if d == "i" else "output"
                 for d, name in re.findall(r"\b([io])_(\w+)=", block)}
    assert connected == {name: p["direction"] for name, p in ports(spec).items()}
    lane_bits = re.search(r"lanes=(\d+), lane_bits=(\d+)", block)
    assert int(lane_bits[1]) * int(lane_bits[2]) == ports(spec)["s_axis_tdata"]["width"]
