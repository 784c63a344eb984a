# SPDX-License-Identifier: Apache-2.0
"""Ctrl-C as a terminal sends it (SIGINT to the command's whole process group), and SIGTERM
as `kill` sends it (to the command alone)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

#: Seconds an interrupted command may take to end: far less than the work it stops (a proof or a
#: sweep's points run for minutes), with room for a machine loaded by other work, where shutting
#: down a local Dask cluster alone has taken 3 s.
PROMPT_SECONDS = 10


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


def processes_in_group(group):
    """Process ids in process group ``group``, but for zombies (ended, not yet collected)."""
    found = []
    for pid in (int(p.name) for p in Path("/proc").glob("[0-9]*")):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if os.getpgid(pid) == group and state != "Z":
                found.append(pid)
        except (OSError, IndexError):
            pass
    return found


def interrupt(args, after, cwd, workdir, group=False, terminate=False):
    """Start ``relu-hw args`` in a process group of its own, wait until tools run in
    ``workdir`` (at least ``after`` seconds), send one SIGINT to the group (with
    ``terminate``, one SIGTERM to the command alone, as ``kill`` does) and wait for the
    command to end. Returns ``(exit status, stderr, seconds from the signal to exit, processes
    left in workdir a moment later)``; with ``group``, processes left in the command's process
    group (such as a cluster's workers) count as left too."""
    proc = subprocess.Popen([sys.executable, "-m", "relu_hw", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    time.sleep(after)
    deadline = time.monotonic() + 60
    while not processes_under(workdir) and time.monotonic() < deadline:
        time.sleep(0.2)     # until a tool is really running
    assert processes_under(workdir), "no tool started in the work folder"
    start = time.monotonic()
    if terminate:
        os.kill(proc.pid, signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - start
    time.sleep(0.5)
    left = processes_under(workdir) + (processes_in_group(proc.pid) if group else [])
    return proc.returncode, err, seconds, left
