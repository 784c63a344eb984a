# SPDX-License-Identifier: Apache-2.0
import os

# Verilog output must not depend on whichever Yosys a developer has on PATH.
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
