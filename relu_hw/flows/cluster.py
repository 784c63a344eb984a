# SPDX-License-Identifier: Apache-2.0
"""Where a sweep's points run: this machine's pool of threads, or a Dask ``distributed``
cluster (the optional extra ``relu-hw[cluster]``; Dask is imported only when a cluster is
asked for).

Both are context managers with the same two methods: :meth:`tool_versions` (of the tools where
the points run, which results depend on) and :meth:`map` (a function over argument tuples,
results in order, a callback as each one finishes). A function given to :meth:`map` must be
defined at module level, so that a cluster's workers import it rather than receive its code.

A scheduler address is ``local:N`` (a ``LocalCluster`` of N worker processes on this machine,
one thread each, shut down at the end) or the address of a running scheduler, e.g.
``tcp://host:8786``, whose workers must have relu-hw installed.
"""

import contextlib
import importlib.util
import logging
import os
import queue
import re
import signal
import threading
import uuid

from ..tools import ToolError, cancel_scope, tool_versions

__all__ = ["LocalPool", "DaskCluster", "parse_scheduler", "check_scheduler", "executor",
           "dask_setup"]

_LOCAL = re.compile(r"local:(\d+)")
#: Most worker processes ``local:N`` starts.
MAX_LOCAL_WORKERS = 256
#: Seconds to wait for a running scheduler to answer.
CONNECT_TIMEOUT = 20


def parse_scheduler(address):
    """``("local", n)`` for ``local:N``, ``("remote", address)`` for a scheduler address such as
    ``tcp://host:8786``; :exc:`ValueError` otherwise."""
    if not isinstance(address, str):
        raise TypeError(f"Scheduler address must be a string, not {address!r}")
    match = _LOCAL.fullmatch(address)
    if match and 1 <= int(match[1]) <= MAX_LOCAL_WORKERS:
        return "local", int(match[1])
    if not match and re.fullmatch(r"[a-z][a-z0-9+.-]*://\S+", address):
        return "remote", address
    raise ValueError(f"Scheduler must be local:N with N from 1 to {MAX_LOCAL_WORKERS} or the "
                     f"address of a running Dask scheduler such as tcp://host:8786, not "
                     f"{address!r}")


def check_scheduler(address):
    """:func:`parse_scheduler`, and :exc:`ValueError` unless Dask's ``distributed`` package
    is installed."""
    parsed = parse_scheduler(address)
    if importlib.util.find_spec("distributed") is None:
        raise ValueError("A scheduler needs Dask's distributed package: pip install "
                         "'relu-hw[cluster]'")
    return parsed


def executor(scheduler=None, jobs=1):
    """:class:`LocalPool` of ``jobs`` threads when ``scheduler`` is ``None``, else
    :class:`DaskCluster`."""
    return LocalPool(jobs) if scheduler is None else DaskCluster(scheduler)


class LocalPool:
    """``jobs`` calls at a time in threads of this process; the tools they start are this
    process's, which :func:`~relu_hw.tools.interrupt` kills.

    The threads are daemons, and an interrupted :meth:`map` does not wait for them: a call
    may be in the middle of Python work (elaborating a large design takes seconds), which
    would hold up a Ctrl-C; its tools are killed, it starts no more, and what it computes is
    dropped. After any other failure, :meth:`map` waits for the running calls to end."""

    def __init__(self, jobs=1):
        self.jobs = jobs

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def tool_versions(self, names):
        return tool_versions(names)

    def map(self, fn, calls, done=None):
        calls = list(calls)
        results = [None] * len(calls)
        todo, finished, stop = queue.SimpleQueue(), queue.SimpleQueue(), threading.Event()
        for i in range(len(calls)):
            todo.put(i)

        def work():
            while not stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    finished.put((i, True, fn(*calls[i])))
                except BaseException as e:      # handed to the calling thread
                    finished.put((i, False, e))
        threads = [threading.Thread(target=work, daemon=True, name=f"relu-hw call {k}")
                   for k in range(max(1, min(self.jobs, len(calls))))]
        for thread in threads:
            thread.start()
        try:
            for _ in calls:
                i, ok, value = finished.get()
                if not ok:
                    raise value
                results[i] = value
                if done is not None:
                    done(i, value)
        except KeyboardInterrupt:
            stop.set()
            raise
        except BaseException:
            stop.set()
            for thread in threads:
                thread.join()
            raise
        return results


def dask_setup(worker):
    """Run by each worker process of a ``local:N`` cluster as it starts (a Dask preload): the
    terminal's Ctrl-C reaches the workers too, and a worker that died of it would leave its
    tools running. The client stops them instead (:meth:`DaskCluster.map`)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _versions(names):
    return tool_versions(names)


@contextlib.contextmanager
def _quiet(names=("distributed", "tornado", "asyncio")):
    # Dask logs its own view of a shutdown or a cancelled task; the command reports what
    # matters itself.
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


class DaskCluster:
    """Calls run as tasks on a Dask ``distributed`` cluster, each submitted with
    ``pure=False`` (so that equal arguments still run) and each in its own thread of a
    worker, never in a process of its own. A ``local:N`` cluster is started on entry and shut
    down on exit. When :meth:`map` is interrupted or fails, tasks not yet done are cancelled
    and the tools the calls started are killed on every worker (each call must run its tools
    in :attr:`scope`, see :func:`~relu_hw.tools.tool_scope`)."""

    def __init__(self, scheduler):
        self.kind, self.value = parse_scheduler(scheduler)
        self.scheduler = scheduler
        #: The tool scope of this session's calls.
        self.scope = f"relu-hw-{uuid.uuid4().hex}"
        self._cluster = self._client = None
        self._stack = contextlib.ExitStack()

    def __enter__(self):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ToolError("dask", 127, "--scheduler needs Dask's distributed package: pip "
                                         "install 'relu-hw[cluster]'") from None
        self._stack.enter_context(_quiet())
        try:
            if self.kind == "local":
                self._cluster = LocalCluster(
                    n_workers=self.value, threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.CRITICAL,
                    preload=[__name__])
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.value, timeout=f"{CONNECT_TIMEOUT}s")
        except OSError as e:
            self.close(abort=True)
            raise ToolError("dask", 1, f"cannot reach the scheduler {self.scheduler}: "
                                       f"{e}") from None
        except BaseException:
            self.close(abort=True)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(abort=exc_type is not None)
        return False

    def close(self, abort=False):
        """Shut down the client and, for ``local:N``, the cluster and its workers; with
        ``abort``, the workers of ``local:N`` are killed first rather than asked to finish
        (a graceful close takes about a second, too long after a Ctrl-C)."""
        try:
            if abort and self._cluster is not None:
                with contextlib.suppress(Exception):
                    for nanny in self._cluster.workers.values():
                        nanny.auto_restart = False
                        if nanny.process is not None and nanny.process.pid is not None:
                            os.kill(nanny.process.pid, signal.SIGKILL)
            if self._client is not None:
                self._client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            self._client = self._cluster = None
            self._stack.close()

    def tool_versions(self, names):
        """The versions of ``names`` on the workers; :exc:`ToolError` unless every worker has
        the same ones, since their results would then differ by worker."""
        found = self._client.run(_versions, list(names))
        distinct = {tuple(sorted(v.items())) for v in found.values()}
        if not distinct:
            raise ToolError("dask", 1, f"the scheduler {self.scheduler} has no workers")
        if len(distinct) > 1:
            raise ToolError("dask", 1, "the workers run different tool versions: " + "; ".join(
                f"{worker}: {', '.join(v.values())}" for worker, v in sorted(found.items())))
        return dict(distinct.pop())

    def map(self, fn, calls, done=None):
        from distributed import as_completed

        futures = []
        try:
            futures = [self._client.submit(fn, *args, pure=False) for args in calls]
            index = {future.key: i for i, future in enumerate(futures)}
            results = [None] * len(futures)
            for future in as_completed(futures):
                i = index[future.key]
                try:
                    results[i] = future.result()
                except Exception as e:
                    raise ToolError("a dask worker", 1, f"{type(e).__name__}: {e}") from None
                if done is not None:
                    done(i, results[i])
            return results
        except BaseException:
            # Tasks not begun are dropped; the running ones' tools are killed where they run.
            with contextlib.suppress(Exception):
                self._client.cancel(futures)
                self._client.run(cancel_scope, self.scope)
            raise
