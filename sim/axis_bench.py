# SPDX-License-Identifier: Apache-2.0
"""cocotb bench: the emitted AXI4-Stream Verilog driven by cocotbext-axi, against the golden
model.

One Verilog build holds several configurations side by side (:func:`bench_top` wraps them in
one module, each instance's ports prefixed ``c<k>_``), so that a simulator compiles once and
each configuration is a separate, quick simulator run. The run picks its configuration from
the environment variable ``RELU_HW_BENCH`` (JSON: ``options`` for :class:`relu_hw.spec.Spec`,
``prefix``, ``count`` of configurations in the build, ``seed``, ``frames``).

The test sends frames of random length (TLAST on each frame's last beat) with a random TUSER per
beat through an ``AxiStreamSource``, in three phases: no pauses, random idle cycles on the source
and backpressure on the sink, and heavy backpressure. Every frame received by the
``AxiStreamSink`` must have the same beats as the frame sent, each lane equal to
:func:`relu_hw.golden.golden` and each beat's TUSER equal to the one sent. (cocotbext-axi keeps
TUSER per byte of TDATA: a frame's ``tuser`` lists one value per byte.)

Run it through ``tests/test_cocotb.py`` (pytest, cocotb's Python runner).
"""

import itertools
import json
import os
import random

import numpy as np

from relu_hw.generate import ports, to_verilog
from relu_hw.golden import golden
from relu_hw.spec import Spec
from relu_hw.sim.verilator import pack_tdata, unpack_tdata

__all__ = ["bench_top", "spec_from_options", "BENCH_TOP"]

#: Name of the wrapper module.
BENCH_TOP = "relu_hw_bench"
#: (source pause probability, sink pause probability) of each phase.
PHASES = ((0.0, 0.0), (0.3, 0.3), (0.1, 0.7))


def spec_from_options(options):
    options = dict(options)
    if options.get("slopes") is not None:
        options["slopes"] = tuple(options["slopes"])
    return Spec(**options)


def bench_top(specs):
    """Verilog of every spec (module ``cfg<k>``) and a wrapper module :data:`BENCH_TOP` with a
    shared ``aclk``/``aresetn`` and each instance's other ports renamed ``c<k>_<port>``.

    Returns ``(text, prefixed)``: the Verilog and, per spec, the spec renamed as instantiated.
    """
    parts, decls, insts, renamed = [], ["input aclk", "input aresetn"], [], []
    for k, spec in enumerate(specs):
        spec = spec_from_options(dict(spec.options(), name=f"cfg{k}"))
        renamed.append(spec)
        parts.append(to_verilog(spec))
        conns = [".aclk(aclk)", ".aresetn(aresetn)"]
        for name, port in ports(spec).items():
            if name in ("aclk", "aresetn"):
                continue
            width = port["width"]
            rng = f"[{width - 1}:0] " if width > 1 else ""
            decls.append(f"{port['direction']} {rng}c{k}_{name}")
            conns.append(f".{name}(c{k}_{name})")
        insts.append(f"  cfg{k} u{k} (\n    " + ",\n    ".join(conns) + "\n  );")
    wrapper = (f"module {BENCH_TOP} (\n  " + ",\n  ".join(decls) + "\n);\n"
               + "\n".join(insts) + "\nendmodule\n")
    return "\n".join(parts) + "\n" + wrapper, renamed


def _pauses(rng, p):
    """An endless, seeded idle/backpressure pattern (``True`` pauses a cycle)."""
    return itertools.cycle([rng.random() < p for _ in range(997)])


try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, RisingEdge
    from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource
except ImportError:  # imported for bench_top by the test runner, outside a simulator
    cocotb = None


if cocotb is not None:
    @cocotb.test()
    async def frames_match_golden(dut):
        """Frames with TLAST and TUSER under idle and backpressure, checked beat by beat."""
        config = json.loads(os.environ["RELU_HW_BENCH"])
        spec = spec_from_options(config["options"])
        prefix = config["prefix"]
        rng = random.Random(config["seed"])
        nprng = np.random.default_rng(config["seed"])

        # Idle every other instance of the build.
        for k in range(config["count"]):
            if f"c{k}_" != prefix:
                getattr(dut, f"c{k}_s_axis_tvalid").value = 0
                getattr(dut, f"c{k}_m_axis_tready").value = 0

        Clock(dut.aclk, 10, unit="ns").start()
        source = AxiStreamSource(AxiStreamBus.from_prefix(dut, f"{prefix}s_axis"), dut.aclk,
                                 dut.aresetn, reset_active_level=False)
        sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, f"{prefix}m_axis"), dut.aclk,
                             dut.aresetn, reset_active_level=False)
        dut.aresetn.value = 0
        await ClockCycles(dut.aclk, 4)
        dut.aresetn.value = 1
        await RisingEdge(dut.aclk)

        fmt_in, fmt_out = spec.input_format, spec.output_format
        in_bytes, out_bytes = fmt_in.lane_bits // 8, fmt_out.lane_bits // 8
        in_words = -(-fmt_in.lane_bits * spec.lanes // 32)
        beats_total = 0
        for phase, (p_src, p_sink) in enumerate(PHASES):
            source.set_pause_generator(_pauses(rng, p_src))
            sink.set_pause_generator(_pauses(rng, p_sink))
            sent = []
            for _ in range(config["frames"]):
                beats = rng.randint(1, 6)
                data = nprng.integers(fmt_in.min_code, fmt_in.max_code, size=(beats, spec.lanes),
                                      endpoint=True)
                user = [rng.getrandbits(spec.user_width) if spec.user_width else 0
                        for _ in range(beats)]
                raw = pack_tdata(data, fmt_in.lane_bits, in_words).view(np.uint8)
                tdata = raw[:, :in_bytes * spec.lanes].tobytes()
                frame = AxiStreamFrame(tdata)
                if spec.user_width:
                    frame.tuser = [u for u in user for _ in range(in_bytes * spec.lanes)]
                await source.send(frame)
                sent.append((data, user))
            for index, (data, user) in enumerate(sent):
                got = await sink.recv()
                where = f"phase {phase}, frame {index}"
                per_beat = out_bytes * spec.lanes
                assert len(got.tdata) == per_beat * len(data), (
                    f"{where}: {len(got.tdata) // per_beat} beats between TLASTs, "
                    f"sent {len(data)}")
                raw = np.frombuffer(bytes(got.tdata), dtype=np.uint8).reshape(len(data),
                                                                              per_beat)
                padded = np.zeros((len(data), -(-per_beat // 4) * 4), dtype=np.uint8)
                padded[:, :per_beat] = raw
                lanes = unpack_tdata(padded.view("<u4"), fmt_out.lane_bits, spec.lanes,
                                     fmt_out.signed)
                expected = golden(spec, data)
                bad = np.argwhere(lanes != expected)
                assert not len(bad), (
                    f"{where}, beat {bad[0][0]}, lane {bad[0][1]}: input "
                    f"{data[tuple(bad[0])]}, expected {expected[tuple(bad[0])]}, got "
                    f"{lanes[tuple(bad[0])]}")
                if spec.user_width:
                    tuser = got.tuser
                    if isinstance(tuser, int):
                        tuser = [tuser] * len(got.tdata)
                    got_user = [tuser[b * per_beat:(b + 1) * per_beat] for b in range(len(data))]
                    for b, (values, want) in enumerate(zip(got_user, user)):
                        assert set(values) == {want}, (
                            f"{where}, beat {b}: TUSER expected {want}, got {values[0]}")
            beats_total += sum(len(d) for d, _ in sent)
        sink.clear_pause_generator()
        await ClockCycles(dut.aclk, spec.stages + 16)
        assert sink.empty() and not sink.active, "the sink received beats that were never sent"
        dut._log.info("%d beats in %d frames matched the golden model", beats_total,
                      len(PHASES) * config["frames"])
