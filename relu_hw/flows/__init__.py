# SPDX-License-Identifier: Apache-2.0
"""FPGA flows: synthesis (Yosys), place and route (nextpnr), reports, sweeps, baselines and a
board bitstream, all with the YoWASP builds of the open-source tools from the package index.

Layers: :mod:`.tools` runs the programs; :mod:`.targets` knows the devices; :mod:`.synth` and
:mod:`.pnr` run one step each and parse its output; :mod:`.report` runs a whole flow for a spec
and renders it; :mod:`.baseline`, :mod:`.sweep` and :mod:`.board` build on that. None of them
prints or reads ``sys.argv``; :mod:`.commands` is the command-line layer.
"""

from .report import run_flow, report_markdown
from .targets import TARGETS, DEFAULT_TARGET, get_target

__all__ = ["run_flow", "report_markdown", "TARGETS", "DEFAULT_TARGET", "get_target"]
