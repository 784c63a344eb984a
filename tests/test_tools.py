# SPDX-License-Identifier: Apache-2.0
"""External tools: found in one way, run in one way, their whole process tree killed on a
timeout or an interrupt; the cache and work roots."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from relu_hw import tools

# A tool that starts a grandchild in a process group of its own (as SymbiYosys starts its
# solvers), prints the grandchild's pid and waits for ever.
_TREE = (
    "import os, subprocess, sys, time\n"
    "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'],"
    " start_new_session=True)\n"
    "print(child.pid, flush=True)\n"
    "time.sleep(600)\n"
)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has ended; only its parent has not collected it yet.
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def _pids_below(pid):
    return tools._descendants(pid)


def _gone(pids, seconds=2.0):
    """Whether every process in ``pids`` has ended within ``seconds`` (a kill is delivered
    asynchronously)."""
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_run_returns_status_and_output(tmp_path):
    code, out = tools.run([sys.executable, "-c", "print('hi'); import sys; sys.exit(3)"],
                          cwd=tmp_path, check=False)
    assert (code, out) == (3, "hi\n")
    with pytest.raises(tools.ToolError, match=r"python3?[\d.]* failed with exit status 3: hi"):
        tools.run([sys.executable, "-c", "print('hi'); import sys; sys.exit(3)"], cwd=tmp_path)


def test_timeout_kills_the_whole_tree(tmp_path):
    start = time.monotonic()
    code, out = tools.run([sys.executable, "-c", _TREE], cwd=tmp_path, timeout=2,
                          check=False)
    assert code is None and "timed out after 2 s" in out
    grandchild = int(out.split()[0])
    assert _gone([grandchild])
    assert time.monotonic() - start < 10


def test_interrupt_kills_the_whole_tree(tmp_path):
    # A KeyboardInterrupt while waiting for the tool kills it and what it started.
    seen = {}

    def interrupt():
        time.sleep(1.5)
        seen["tools"] = list(tools._live)
        for proc in seen["tools"]:
            seen["tree"] = _pids_below(proc.pid)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt).start()
    with pytest.raises(KeyboardInterrupt):
        tools.run([sys.executable, "-c", _TREE], cwd=tmp_path, timeout=60)
    (proc,) = seen["tools"]
    assert seen["tree"] and _gone([proc.pid, *seen["tree"]])
    assert not tools._live


def _marked(marker):
    """Process ids whose command line holds ``marker``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            pass
    return found


def test_kill_tree_catches_a_child_forked_while_the_tree_is_read(tmp_path):
    # A parent that forks all the time, each child in a session of its own: a child forked
    # between reading the tree and killing it must not live on as an orphan.
    marker = f"relu-hw-fork-{os.getpid()}-{time.monotonic_ns()}"
    child = f"import time; time.sleep(60)  # {marker}"
    forker = ("import subprocess, sys\n"
              "while True:\n"
              f"    subprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True)\n")
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", forker], start_new_session=True)
        deadline = time.monotonic() + 20
        while len(_marked(marker)) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        tools._kill_tree(proc)
        proc.wait()
        try:
            assert _gone(_marked(marker)), "a child of the killed tree lives on"
        finally:
            for pid in _marked(marker):
                os.kill(pid, signal.SIGKILL)


def test_cancel_scope_kills_only_that_scope(tmp_path):
    # As on a cluster's worker: two callers' tools in one process; cancelling one caller's
    # scope kills its tools (through run_parallel's threads too) and no other.
    results = {}

    def caller(scope, jobs):
        with tools.tool_scope(scope):
            try:
                results[scope] = tools.run_parallel(
                    lambda _: tools.run([sys.executable, "-c", _TREE], cwd=tmp_path,
                                        timeout=20, check=False)[0], [0], jobs)
            except tools.ToolError as e:
                results[scope] = e
    threads = [threading.Thread(target=caller, args=("a", 1)),
               threading.Thread(target=caller, args=("b", 1))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while len(tools._live) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(tools._live.values()) == ["a", "b"]
    procs = {scope: proc for proc, scope in tools._live.items()}
    tree = _pids_below(procs["a"].pid)
    assert tools.cancel_scope("a") == 1
    assert _gone([procs["a"].pid, *tree])
    assert _alive(procs["b"].pid)
    tools._kill_tree(procs["b"])
    for thread in threads:
        thread.join()
    assert results["a"] == [-signal.SIGKILL]
    # A cancelled scope starts nothing more.
    with tools.tool_scope("a"), pytest.raises(tools.ToolError, match="cancelled"):
        tools.run([sys.executable, "-c", "pass"], cwd=tmp_path)


def test_missing_tool():
    with pytest.raises(tools.ToolError, match="no-such-tool-here is not installed"):
        tools.find("no-such-tool-here")
    with pytest.raises(tools.ToolError, match="is not installed"):
        tools.run(["no-such-tool-here"], cwd=".")


def test_cache_root(monkeypatch, tmp_path):
    monkeypatch.setenv("RELU_HW_CACHE", str(tmp_path / "c"))
    assert tools.cache_root() == tmp_path / "c"
    monkeypatch.delenv("RELU_HW_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert tools.cache_root() == tmp_path / "x" / "relu-hw"


def test_work_root(monkeypatch, tmp_path):
    monkeypatch.chdir(Path.home())
    assert tools.work_root() == Path("build")
    # Under /tmp, the YoWASP tools can't see the folder: work goes under the cache.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RELU_HW_CACHE", str(Path.home() / ".cache" / "relu-hw-test"))
    assert tools.work_root() == Path.home() / ".cache" / "relu-hw-test" / "work"
    monkeypatch.setenv("RELU_HW_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="No work folder outside /tmp"):
        tools.work_root()
    with pytest.raises(ValueError, match="Work folder must be outside /tmp"):
        tools.check_workdir(tmp_path / "w")
