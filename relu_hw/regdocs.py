# SPDX-License-Identifier: Apache-2.0
"""The register map's files: JSON, SystemRDL compiled (and so validated) by
``systemrdl-compiler``, and what PeakRDL exports from it (a C header, Markdown documentation,
IP-XACT).

The SystemRDL tools are an optional extra (``pip install 'relu-hw[regmap]'``), imported only
here, by the functions that need them.
"""

import json
import tempfile
from pathlib import Path

from . import __version__
from .regmap import RegisterMap
from .tools import ToolError

__all__ = ["regmap_file_names", "regmap_files", "compile_systemrdl"]

_EXTRA = "the register map's SystemRDL files need the 'regmap' extra: pip install 'relu-hw[regmap]'"


def regmap_file_names(spec):
    """``{what: file name}`` of the register map's files for ``spec`` (with control):
    ``json``, ``systemrdl``, ``c_header``, ``markdown``, ``ipxact``."""
    name = spec.name
    return {"json": f"{name}.regmap.json", "systemrdl": f"{name}.rdl",
            "c_header": f"{name}_regs.h", "markdown": f"{name}.regmap.md",
            "ipxact": f"{name}.ipxact.xml"}


def compile_systemrdl(text, filename="regmap.rdl"):
    """Compile and elaborate SystemRDL ``text`` with ``systemrdl-compiler``; return the root
    node. :exc:`~relu_hw.tools.ToolError` if the package is missing or the text does not
    compile (with the compiler's messages)."""
    try:
        from systemrdl import RDLCompileError, RDLCompiler
        from systemrdl.messages import MessagePrinter
    except ImportError:
        raise ToolError("systemrdl-compiler", 127, _EXTRA) from None

    messages = []

    class _Collect(MessagePrinter):
        def emit_message(self, lines):
            messages.extend(lines)

    with tempfile.TemporaryDirectory(prefix="relu-hw-rdl-") as folder:
        path = Path(folder) / filename
        path.write_text(text)
        compiler = RDLCompiler(message_printer=_Collect())
        try:
            compiler.compile_file(str(path))
            return compiler.elaborate()
        except RDLCompileError:
            raise ToolError("systemrdl-compiler", 1, "\n".join(messages)) from None


def regmap_files(spec):
    """The register map of ``spec`` (with control) as files, ``{file name: text}``: the JSON
    map, the SystemRDL (compiled and elaborated first, which validates it), and PeakRDL's C
    header, Markdown and IP-XACT exports of it."""
    regmap = RegisterMap(spec)
    names = regmap_file_names(spec)
    rdl = regmap.systemrdl()
    root = compile_systemrdl(rdl, names["systemrdl"])
    try:
        from peakrdl_cheader.exporter import CHeaderExporter
        from peakrdl_ipxact import IPXACTExporter
        from peakrdl_markdown import MarkdownExporter
    except ImportError:
        raise ToolError("peakrdl", 127, _EXTRA) from None
    files = {names["json"]: json.dumps(regmap.as_dict(), indent=2) + "\n",
             names["systemrdl"]: rdl}
    with tempfile.TemporaryDirectory(prefix="relu-hw-peakrdl-") as folder:
        folder = Path(folder)
        top = root.top
        CHeaderExporter().export(top, str(folder / names["c_header"]))
        MarkdownExporter().export(top, str(folder / names["markdown"]))
        IPXACTExporter(vendor="relu-hw", library="relu_hw",
                       version=__version__).export(top, str(folder / names["ipxact"]))
        for what in ("c_header", "markdown", "ipxact"):
            files[names[what]] = (folder / names[what]).read_text()
    return files
