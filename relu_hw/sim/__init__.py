# SPDX-License-Identifier: Apache-2.0
"""Cycle-accurate simulation against the golden model, streamed chunk by chunk.

Layers: :mod:`.stimulus` (input beats, handshake patterns and the cycle rules) and
:mod:`.scoreboard` (every output beat against the golden model) at the bottom; the two
backends above them, :mod:`.amaranth` (the gateware on Amaranth's simulator) and
:mod:`.verilator` (the emitted Verilog, compiled); :mod:`.runner` on top.
"""

from .amaranth import run_amaranth
from .runner import BACKENDS, SimReport, run, simulate, stream
from .scoreboard import Mismatch, Scoreboard, Trace, check
from .stimulus import RandomStimulus, Stimulus, edge_codes, make_stimulus
from .verilator import build_model, run_verilator

__all__ = ["BACKENDS", "SimReport", "simulate", "run", "stream", "Stimulus",
           "RandomStimulus", "make_stimulus", "edge_codes", "Scoreboard", "Trace", "Mismatch",
           "check", "run_amaranth", "run_verilator", "build_model"]
