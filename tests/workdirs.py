# SPDX-License-Identifier: Apache-2.0
"""Work folders for tests that run YoWASP tools.

Those tools see a private /tmp of their own, so their work folders must lie outside /tmp: under
the repository's build/ folder, or, when the checkout itself lies under /tmp (a CI clone may),
under the user's cache.
"""

import hashlib
from pathlib import Path

from relu_hw.tools import under_tmp

ROOT = Path(__file__).resolve().parent.parent


def work_dir(name):
    """A work folder outside /tmp for the tests called ``name``."""
    if not under_tmp(ROOT):
        return ROOT / "build" / name
    key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    return Path.home() / ".cache" / "relu-hw" / "test-work" / key / name
