# SPDX-License-Identifier: Apache-2.0
"""``python -m relu_hw``: the ``relu-hw`` command."""

import sys

from .cli import main

sys.exit(main())
