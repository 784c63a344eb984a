# SPDX-License-Identifier: Apache-2.0
"""relu-hw: bit-exact FPGA hardware for the ReLU family of activations."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("relu-hw")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

from .spec import Spec  # noqa: E402

__all__ = ["Spec", "__version__"]
