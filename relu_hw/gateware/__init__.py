# SPDX-License-Identifier: Apache-2.0
"""Amaranth gateware: the lane datapath, the stream pipeline and the AXI4-Stream top level."""

from .axis import AXIStreamActivation, axis_signature
from .pipeline import ActivationPipeline, payload_layout

__all__ = ["ActivationPipeline", "AXIStreamActivation", "axis_signature", "payload_layout"]
