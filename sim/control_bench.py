# SPDX-License-Identifier: Apache-2.0
"""cocotb benches for a block with control: the emitted Verilog driven by cocotbext-axi's
``AxiLiteMaster`` on ``s_axil_*`` and ``AxiStreamSource``/``AxiStreamSink`` on the streams, with
idle and backpressure pause generators, against the golden model (:mod:`relu_hw.frames`).

The configuration comes from the environment variable ``RELU_HW_BENCH`` (JSON): ``options`` for
:class:`relu_hw.spec.Spec`, ``prefix`` and ``count`` of the instances in the build (one Verilog
build holds several configurations, as ``sim/axis_bench.py`` makes it), ``seed``, ``writes``
(``[{"register", "value"}]``, written in the middle of a long frame), ``dead_lane`` (a lane
whose inputs are all negative), and for :func:`header_offsets_match_the_bus` the ``offsets``
and ``resets`` read from the generated C header. Run them through
``tests/test_cocotb_control.py``.

:func:`runtime_parameters_and_counters` streams frames in two windows:

1. frames ``0 .. m`` with the build-time parameters; while frame ``m`` (a long one) is on its
   way, the writes go over the bus, and the bench checks that their responses came while frame
   ``m`` was still coming in, so that frame ``m + 1`` must be the first computed with them.
   Once the sink has every frame, one write of ``CONTROL`` takes a snapshot and clears; the
   counters read must equal the golden model's over frames ``0 .. m``.
2. frames ``m + 1 ..`` with the new parameters; while they stream, snapshots are taken and
   read: every counter must equal the golden model's over exactly the first ``BEATS`` output
   beats of the window (a consistent snapshot). At the end the counters must equal the golden
   model's over the window, and the dead lane must read as such (``ALIVE``) with every output
   zero (``ZEROS``).

Every output frame is checked against the golden model with the parameters of its frame.
"""

import itertools
import json
import os
import random

import numpy as np

from relu_hw.frames import FrameModel, parse_writes
from relu_hw.regmap import RegisterMap
from relu_hw.sim.verilator import pack_tdata, unpack_tdata
from relu_hw.spec import Spec

try:
    import cocotb
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, RisingEdge
    from cocotbext.axi import (AxiLiteBus, AxiLiteMaster, AxiResp, AxiStreamBus,
                               AxiStreamFrame, AxiStreamSink, AxiStreamSource)
except ImportError:  # imported outside a simulator
    cocotb = None

__all__ = ["spec_from_options"]

#: Source and sink pause probabilities: idle cycles and backpressure throughout.
PAUSES = (0.3, 0.4)
#: Beats of the long frame during which the writes go.
LONG_FRAME = 48


def spec_from_options(options):
    options = dict(options)
    if options.get("slopes") is not None:
        options["slopes"] = tuple(options["slopes"])
    if options.get("runtime") is not None:
        options["runtime"] = tuple(options["runtime"])
    return Spec(**options)


def _pauses(rng, p):
    return itertools.cycle([rng.random() < p for _ in range(997)])


def _frames(spec, rng, count, dead_lane, long_at=None):
    """``count`` frames of random codes (``dead_lane``'s all negative): a list of
    ``(beats, lanes)`` arrays."""
    fmt = spec.input_format
    frames = []
    for f in range(count):
        beats = LONG_FRAME if f == long_at else int(rng.integers(1, 7))
        data = rng.integers(fmt.min_code, fmt.max_code, size=(beats, spec.lanes),
                            endpoint=True)
        if dead_lane is not None:
            data[:, dead_lane] = rng.integers(fmt.min_code, -1, size=beats, endpoint=True)
        frames.append(data)
    return frames


if cocotb is not None:
    class _Bench:
        def __init__(self, dut, config):
            spec = spec_from_options(config["options"])
            prefix = self.prefix = config["prefix"]
            self.dut, self.spec = dut, spec
            self.regmap = RegisterMap(spec)
            # Every other instance of the build stays idle.
            for k in range(config["count"]):
                if f"c{k}_" != prefix:
                    for port in ("s_axis_tvalid", "m_axis_tready", "s_axil_awvalid",
                                 "s_axil_wvalid", "s_axil_arvalid", "s_axil_bready",
                                 "s_axil_rready"):
                        getattr(dut, f"c{k}_{port}").value = 0
            self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, f"{prefix}s_axil"),
                                        dut.aclk, dut.aresetn, reset_active_level=False)
            self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, f"{prefix}s_axis"),
                                          dut.aclk, dut.aresetn, reset_active_level=False)
            self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, f"{prefix}m_axis"),
                                      dut.aclk, dut.aresetn, reset_active_level=False)
            self._valid = getattr(dut, f"{prefix}s_axis_tvalid")
            self._ready = getattr(dut, f"{prefix}s_axis_tready")
            self._last = getattr(dut, f"{prefix}s_axis_tlast")
            # Input beats accepted, per frame, as the block took them.
            self.accepted = [0]

        async def start(self):
            Clock(self.dut.aclk, 10, unit="ns").start()
            self.dut.aresetn.value = 0
            await ClockCycles(self.dut.aclk, 4)
            self.dut.aresetn.value = 1
            await RisingEdge(self.dut.aclk)
            cocotb.start_soon(self._monitor())

        async def _monitor(self):
            dut = self.dut
            while True:
                await RisingEdge(dut.aclk)
                if self._valid.value and self._ready.value:
                    self.accepted[-1] += 1
                    if self._last.value:
                        self.accepted.append(0)

        async def read(self, name_or_address):
            address = (self.regmap[name_or_address].offset
                       if isinstance(name_or_address, str) else name_or_address)
            r = await self.master.read(address, 4)
            return int.from_bytes(r.data, "little"), r.resp

        async def read_ok(self, name):
            value, resp = await self.read(name)
            assert resp == AxiResp.OKAY, f"read of {name} answered {resp}"
            return value

        async def write(self, name_or_address, value):
            address = (self.regmap[name_or_address].offset
                       if isinstance(name_or_address, str) else name_or_address)
            r = await self.master.write(address, value.to_bytes(4, "little"))
            return r.resp

        def send(self, data):
            spec, fmt = self.spec, self.spec.input_format
            words = -(-fmt.lane_bits * spec.lanes // 32)
            raw = pack_tdata(data, fmt.lane_bits, words).view(np.uint8)
            return self.source.send(AxiStreamFrame(
                raw[:, :fmt.lane_bits // 8 * spec.lanes].tobytes()))

        async def receive(self, beats):
            spec, fmt = self.spec, self.spec.output_format
            frame = await self.sink.recv()
            per_beat = fmt.lane_bits // 8 * spec.lanes
            assert len(frame.tdata) == per_beat * beats, (
                f"{len(frame.tdata) // per_beat} beats between TLASTs, sent {beats}")
            raw = np.frombuffer(bytes(frame.tdata), dtype=np.uint8).reshape(beats, per_beat)
            padded = np.zeros((beats, -(-per_beat // 4) * 4), dtype=np.uint8)
            padded[:, :per_beat] = raw
            return unpack_tdata(padded.view("<u4"), fmt.lane_bits, spec.lanes)

        async def counters(self):
            """Every counter and ALIVE, as read (after a snapshot written by the caller)."""
            return {r.name: await self.read_ok(r.name) for r in self.regmap
                    if r.kind in ("counter", "alive")}

    def _expected(spec, frames, writes):
        """Golden outputs and events of each frame: ``[(last, outputs, events)]``."""
        model = FrameModel(spec, writes)
        out = []
        for data in frames:
            last = np.arange(len(data)) == len(data) - 1
            y, events = model.expect(data, last, count=False)
            out.append((last, y, events))
        return out

    def _counters(spec, expected, beats=None):
        """Golden counters over the first ``beats`` output beats (all by default) of the
        frames of ``expected``."""
        last = np.concatenate([e[0] for e in expected])[:beats]
        y = np.concatenate([e[1] for e in expected])[:beats]
        events = {name: np.concatenate([e[2][name] for e in expected])[:beats]
                  for name in expected[0][2]}
        model = FrameModel(spec)
        model.add(events, last, y)
        return model.counters()

    @cocotb.test()
    async def runtime_parameters_and_counters(dut):
        """Writes in the middle of a frame land at the next frame; counters, snapshots and a
        dead lane against the golden model, under idle cycles and backpressure."""
        config = json.loads(os.environ["RELU_HW_BENCH"])
        spec = spec_from_options(config["options"])
        rng = np.random.default_rng(config["seed"])
        prng = random.Random(config["seed"])
        dead = config.get("dead_lane")
        bench = _Bench(dut, config)
        await bench.start()
        bench.source.set_pause_generator(_pauses(prng, PAUSES[0]))
        bench.sink.set_pause_generator(_pauses(prng, PAUSES[1]))

        assert await bench.read_ok("ID") == bench.regmap["ID"].reset
        # Enough frames after the writes for a few snapshots (each reads every counter, at
        # the read pipeline's latency) while they stream.
        m, total = 4, 150
        frames = _frames(spec, rng, total, dead, long_at=m)
        writes = parse_writes(spec, [dict(w, frame=m + 1) for w in config["writes"]])
        expected = _expected(spec, frames, writes)
        outputs = [e[1] for e in expected]

        # Window 1: frames 0 .. m; the writes while frame m comes in.
        for data in frames[:m + 1]:
            await bench.send(data)
        while len(bench.accepted) <= m or bench.accepted[m] < 4:
            await RisingEdge(dut.aclk)
        for w, item in zip(writes, config["writes"]):
            resp = await bench.write(w.register, bench.regmap[w.register].fields[0].bits(w.code))
            assert resp == AxiResp.OKAY, f"write of {item} answered {resp}"
        assert len(bench.accepted) == m + 1 and bench.accepted[m] < LONG_FRAME, (
            f"the writes were answered after frame {m} had ended; the bench needs them inside")
        status = await bench.read_ok("STATUS")
        pending_seen = status & 1
        for f in range(m + 1):
            got = await bench.receive(len(frames[f]))
            assert np.array_equal(got, outputs[f]), (
                f"frame {f}: expected\n{outputs[f]}\ngot\n{got}")
        resp = await bench.write("CONTROL", 0b11)        # snapshot, then clear
        assert resp == AxiResp.OKAY
        got = await bench.counters()
        want = _counters(spec, expected[:m + 1])
        assert got == {k: want[k] for k in got}, f"window 1 counters: read {got}, want {want}"

        # Window 2: frames m + 1 .., with the new parameters; snapshots while they stream.
        for data in frames[m + 1:]:
            await bench.send(data)
        snapshots = 0
        while not bench.source.empty() or bench.source.active:
            await ClockCycles(dut.aclk, 7)
            assert await bench.write("CONTROL", 0b10) == AxiResp.OKAY
            got = await bench.counters()
            want = _counters(spec, expected[m + 1:], got["BEATS"])
            assert got == {k: want[k] for k in got}, (
                f"a snapshot after {got['BEATS']} beats is not consistent: read {got}, the "
                f"golden model counts {want}")
            snapshots += 1
        for f in range(m + 1, total):
            got = await bench.receive(len(frames[f]))
            assert np.array_equal(got, outputs[f]), (
                f"frame {f} (after the writes): expected\n{outputs[f]}\ngot\n{got}")
        await ClockCycles(dut.aclk, bench.spec.stages + 8)
        assert await bench.write("CONTROL", 0b10) == AxiResp.OKAY
        got = await bench.counters()
        want = _counters(spec, expected[m + 1:])
        assert got == {k: want[k] for k in got}, f"window 2 counters: read {got}, want {want}"
        beats = got["BEATS"]
        if dead is not None:
            assert not got["ALIVE"] >> dead & 1, f"lane {dead} should read as dead"
            assert got[f"ZEROS{dead}"] == beats
        sparsity = [got[f"ZEROS{k}"] / beats for k in range(spec.lanes)]
        dut._log.info("writes landed at frame %d (STATUS.PENDING read %d mid-frame); %d "
                      "consistent snapshots while streaming; sparsity per lane %s; dead "
                      "lanes %s", m + 1, pending_seen, snapshots,
                      " ".join(f"{s:.3f}" for s in sparsity),
                      [k for k in range(spec.lanes) if not got["ALIVE"] >> k & 1])
        assert snapshots >= 2

    @cocotb.test()
    async def bad_addresses_answer_slverr(dut):
        """Unmapped addresses answer SLVERR; writes to read-only registers too, and change
        nothing."""
        config = json.loads(os.environ["RELU_HW_BENCH"])
        bench = _Bench(dut, config)
        await bench.start()
        regmap = bench.regmap
        mapped = {r.offset for r in regmap}
        top = 1 << regmap.address_width
        unmapped = [a for a in (0x014, 0x01C, 0x028, 0x07C, 0x08C, 0x3FC, top - 4)
                    if a not in mapped]
        for address in unmapped:
            _, resp = await bench.read(address)
            assert resp == AxiResp.SLVERR, f"read of unmapped {address:#x} answered {resp}"
            assert await bench.write(address, 0xFFFFFFFF) == AxiResp.SLVERR, (
                f"write to unmapped {address:#x} did not answer SLVERR")
        for r in regmap:
            if r.access == "ro":
                assert await bench.write(r.name, 0xA5A5A5A5) == AxiResp.SLVERR, (
                    f"write to read-only {r.name} did not answer SLVERR")
                value = await bench.read_ok(r.name)
                if r.kind == "const":
                    assert value == r.reset, f"{r.name} changed to {value:#x}"
        assert await bench.read_ok("CONTROL") == 0
        dut._log.info("%d unmapped addresses and %d read-only registers answered SLVERR",
                      len(unmapped), sum(r.access == "ro" for r in regmap))

    @cocotb.test()
    async def header_offsets_match_the_bus(dut):
        """Every register at the offset the generated C header gives: constants read their
        reset values, parameters read back what was written, counters answer OKAY."""
        config = json.loads(os.environ["RELU_HW_BENCH"])
        bench = _Bench(dut, config)
        await bench.start()
        offsets, resets = config["offsets"], config["resets"]
        kinds = {r.name: r.kind for r in bench.regmap}
        assert set(offsets) == set(kinds), "the header and the map list different registers"
        for name, offset in offsets.items():
            value, resp = await bench.read(offset)
            assert resp == AxiResp.OKAY, f"{name} at header offset {offset:#x}: {resp}"
            if kinds[name] == "const":
                assert value == resets[name], (
                    f"{name} at {offset:#x} reads {value:#x}, the header says {resets[name]:#x}")
            if kinds[name] in ("param", "slope"):
                assert value == resets[name], f"{name} resets to {value:#x}, not {resets[name]:#x}"
                fld = bench.regmap[name].fields[0]
                probe = fld.bits(1)
                assert await bench.write(offset, probe) == AxiResp.OKAY
                assert (await bench.read(offset))[0] == probe, f"{name} did not read back"
        dut._log.info("%d registers at the C header's offsets", len(offsets))
