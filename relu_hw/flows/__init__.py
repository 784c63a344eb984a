# SPDX-License-Identifier: Apache-2.0
"""FPGA flows: synthesis (Yosys), place and route (nextpnr), reports, sweeps, baselines and a
board bitstream, all with the YoWASP builds of the open-source tools from the package index.

Layers: :mod:`.targets` knows the devices; :mod:`.synth` and :mod:`.pnr` run one step each
(through :mod:`relu_hw.tools`) and parse its output; :mod:`.report` runs a whole flow for a
spec and renders it; :mod:`.baseline`, :mod:`.sweep` and :mod:`.board` build on that. A
library only: none of them prints or reads ``sys.argv`` (that is :mod:`relu_hw.cli`).
"""

from .report import flow_workdir, report_markdown, run_flow
from .targets import DEFAULT_TARGET, TARGETS, get_target

__all__ = ["run_flow", "report_markdown", "flow_workdir", "TARGETS", "DEFAULT_TARGET",
           "get_target"]
