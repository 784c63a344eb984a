# SPDX-License-Identifier: Apache-2.0
"""Ctrl-C as a terminal sends it: SIGINT to the command's whole process group."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def processes_under(folder):
    """Process ids whose working folder lies in ``folder``."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if str(cwd.resolve()).startswith(str(Path(folder).resolve())):
                found.append(int(cwd.parent.name))
        except OSError:
            pass
    return found


def interrupt(args, after, cwd, workdir):
    """Start ``relu-hw args`` in a process group of its own, wait until tools run in
    ``workdir`` (at least ``after`` seconds), send one SIGINT to the group and wait for the
    command to end. Returns ``(exit status, stderr, seconds from SIGINT to exit, processes
    left in workdir a moment later)``."""
    proc = subprocess.Popen([sys.executable, "-m", "relu_hw", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(after)
    deadline = time.monotonic() + 60
    while not processes_under(workdir) and time.monotonic() < deadline:
        time.sleep(0.2)     # until a tool is really running
    assert processes_under(workdir), "no tool started in the work folder"
    start = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - start
    time.sleep(0.5)
    return proc.returncode, err, seconds, processes_under(workdir)
