# SPDX-License-Identifier: Apache-2.0
"""The golden model of a stream of frames: per-channel slopes, runtime parameters that change
at frame boundaries, and the telemetry counters.

:func:`relu_hw.golden.golden` computes one beat from the constants of a spec. A block with
per-channel slopes or runtime parameters needs more: which frame a beat belongs to (TLAST ends
a frame), its place in that frame (channel group ``place % channel_groups``), and the parameter
set of that frame. :class:`FrameModel` tracks those over a stream of beats, given chunk by
chunk, and computes each beat with :func:`~relu_hw.golden.golden` on a plain spec holding that
frame's parameters and that group's slopes (:func:`parameter_spec`): the numbers stay those of
the golden model. It counts the events the hardware's telemetry counts (:data:`EVENTS`), at
output beats, exactly as the register map describes them.

Parameter writes are :class:`Write` records: a register of ``SLOPE``, ``SLOPE{c}``,
``MAX_VALUE``, ``THRESHOLD``, a code for its field, and the frame that is the first computed
with it (the simulators apply each write before that frame's first beat and after the previous
frame's first beat, so that the block's frame-boundary rule decides).
"""

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .golden import golden, rounded
from .regmap import RegisterMap
from .spec import REGISTER_BITS, Spec, parse_constant

__all__ = ["EVENTS", "COUNTER_MAX", "Write", "Params", "FrameModel", "parameter_spec",
           "parse_writes", "telemetry_summary"]

#: Per-lane events, in the order of :meth:`FrameModel.events` (and of the counters
#: ``NEGATIVES``, ``ZEROS``, ``CLIPS``, ``SAT_HIGH``, ``SAT_LOW``).
EVENTS = ("negative", "zero", "clip", "sat_high", "sat_low")
#: Where a 32-bit counter stops.
COUNTER_MAX = (1 << REGISTER_BITS) - 1
_COUNTER_NAMES = dict(zip(EVENTS, ("NEGATIVES", "ZEROS", "CLIPS", "SAT_HIGH", "SAT_LOW")))


@dataclass(frozen=True)
class Write:
    """Write ``code`` into the field of runtime parameter register ``register`` so that frame
    ``frame`` (from 0, counted at the input) is the first computed with it."""
    frame: int
    register: str
    code: int


@dataclass(frozen=True)
class Params:
    """One parameter set, as codes: ``slopes`` (one per channel, at ``spec.slope_frac``
    fractional bits) when slopes are runtime, ``max_value`` (output grid) and ``threshold``
    (input grid) when those are; ``None`` where a constant of the spec holds."""
    slopes: tuple | None = None
    max_value: int | None = None
    threshold: int | None = None

    @classmethod
    def initial(cls, spec):
        """The set a block resets to: the build-time values of its runtime parameters."""
        slopes = None
        if "slope" in spec.runtime:
            slopes = tuple(q.code << (spec.slope_frac - q.frac) for q in spec.channel_slopes)
        return cls(slopes=slopes,
                   max_value=spec.max_value_q.code if "max_value" in spec.runtime else None,
                   threshold=spec.threshold_q.code if "threshold" in spec.runtime else None)

    def apply(self, spec, write):
        """This set with ``write`` applied."""
        name = write.register
        if name == "MAX_VALUE":
            return Params(self.slopes, write.code, self.threshold)
        if name == "THRESHOLD":
            return Params(self.slopes, self.max_value, write.code)
        slopes = list(self.slopes)
        if name == "SLOPE":
            slopes = [write.code] * len(slopes)
        else:
            slopes[int(name[len("SLOPE"):])] = write.code
        return Params(tuple(slopes), self.max_value, self.threshold)


def _dyadic(code, frac):
    return str(Fraction(code, 1 << frac))


def parameter_spec(spec, params, group=0):
    """A plain spec (no control, one channel per lane) that computes like ``spec`` with the
    parameter set ``params`` (a :class:`Params`) on the beats of channel group ``group``."""
    options = {k: v for k, v in spec.options().items()
               if k not in ("control", "runtime", "channels")}
    lanes = spec.lanes
    if spec.lane_slopes is not None:
        if params.slopes is not None:
            codes = params.slopes[group * lanes:(group + 1) * lanes] if spec.kind == "prelu" \
                else params.slopes[:1]
            frac = spec.slope_frac
        else:
            chosen = spec.channel_slopes[group * lanes:(group + 1) * lanes]
            frac = max(q.frac for q in chosen)
            codes = [q.code << (frac - q.frac) for q in chosen]
        # The exact quantized values, with their own fractional bits: quantized again, they
        # are themselves.
        options.update(slope_frac=frac, slope_impl="auto")
        if spec.kind == "prelu":
            options["slopes"] = tuple(_dyadic(c, frac) for c in codes)
        else:
            options["slope"] = _dyadic(codes[0], frac)
    if params.max_value is not None:
        options["max_value"] = _dyadic(params.max_value, spec.out_frac)
    if params.threshold is not None:
        options["threshold"] = _dyadic(params.threshold, spec.frac)
    return Spec(**options)


def _check_frame(frame, what):
    if isinstance(frame, bool) or not isinstance(frame, int) or frame < 0:
        raise ValueError(f"{what}: frame must be a non-negative integer, not {frame!r}")
    return frame


def parse_writes(spec, items, what="Register write"):
    """:class:`Write` records from ``items``: each a :class:`Write`, or a dict with ``frame``,
    ``register`` (a runtime parameter register of ``spec``'s map) and either ``value`` (a
    decimal or fraction, taken to the register's grid as at build time: slopes to nearest,
    max_value and threshold down) or ``code`` (the field's code). Sorted by frame, stable.
    :exc:`ValueError` or :exc:`TypeError` with a sentence naming the item at fault."""
    if spec.control == "none" or not spec.runtime:
        raise ValueError("Register writes need runtime parameters (runtime and control "
                         "'axi-lite')")
    regmap = RegisterMap(spec)
    out = []
    for i, item in enumerate(items):
        where = f"{what} {i}"
        if isinstance(item, Write):
            item = {"frame": item.frame, "register": item.register, "code": item.code}
        if not isinstance(item, dict):
            raise TypeError(f"{where} must be a table with frame, register and value or "
                            f"code, not {item!r}")
        unknown = sorted(set(item) - {"frame", "register", "value", "code"})
        if unknown:
            raise ValueError(f"{where} has unknown keys {', '.join(unknown)}; the keys are "
                             f"frame, register and value or code")
        for key in ("frame", "register"):
            if key not in item:
                raise ValueError(f"{where} needs {key!r}")
        frame = _check_frame(item["frame"], where)
        name = item["register"]
        if not isinstance(name, str) or name not in regmap or \
                regmap[name].kind not in ("param", "slope"):
            names = [r.name for r in regmap if r.kind in ("param", "slope")]
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            raise ValueError(f"{where}: register must be a runtime parameter register of "
                             f"this block ({shown}), not {name!r}")
        fld = regmap[name].fields[0]
        if ("value" in item) == ("code" in item):
            raise ValueError(f"{where} needs either 'value' or 'code'")
        if "code" in item:
            code = item["code"]
            if isinstance(code, bool) or not isinstance(code, int):
                raise TypeError(f"{where}: code must be an integer, not {code!r}")
        else:
            value = parse_constant(item["value"], f"{where}: value")
            scaled = value * (1 << fld.frac)
            # Slopes round to nearest (ties to even), as at build time; max_value and
            # threshold floor, as at build time.
            code = round(scaled) if name.startswith("SLOPE") else scaled.numerator // \
                scaled.denominator
        try:
            fld.bits(code)
        except ValueError:
            lo = -(1 << (fld.width - 1)) if fld.signed else 0
            hi = (1 << (fld.width - (1 if fld.signed else 0))) - 1
            raise ValueError(f"{where}: {name} holds codes from {lo} to {hi} "
                             f"({_dyadic(lo, fld.frac)} to {_dyadic(hi, fld.frac)}), not "
                             f"{code}") from None
        out.append(Write(frame, name, int(code)))
    return sorted(out, key=lambda w: w.frame)


class FrameModel:
    """Expected outputs and events of a stream of beats, given in order, chunk by chunk.

    Parameters
    ----------
    spec : Spec
    writes : list of Write
        Parameter writes (:func:`parse_writes`), by frame.
    """

    def __init__(self, spec, writes=()):
        if not isinstance(spec, Spec):
            raise TypeError(f"Spec must be a relu_hw.Spec, not {spec!r}")
        self._spec = spec
        writes = sorted(writes, key=lambda w: w.frame)
        # Parameter sets by the first frame they hold for.
        params = Params.initial(spec)
        self._starts, self._sets = [0], [params]
        for w in writes:
            params = params.apply(spec, w)
            if w.frame == self._starts[-1]:
                self._sets[-1] = params
            else:
                self._starts.append(w.frame)
                self._sets.append(params)
        self._specs = {}
        self._frame = 0         # frame of the next beat
        self._place = 0         # its place in that frame
        lanes = spec.lanes
        self.beats = 0
        self.frames = 0
        self.counts = {e: np.zeros(lanes, dtype=np.int64) for e in EVENTS}
        self.alive = np.zeros(lanes, dtype=bool)

    @property
    def spec(self):
        return self._spec

    def _spec_for(self, set_index, group):
        key = (set_index, group)
        if key not in self._specs:
            self._specs[key] = parameter_spec(self._spec, self._sets[set_index], group)
        return self._specs[key]

    def places(self, last):
        """``(frame, place)`` of each of the next beats, whose TLAST flags are ``last``;
        advances the model past them."""
        last = np.asarray(last, dtype=bool)
        n = len(last)
        index = np.arange(n)
        # A beat starts a frame where the beat before it carried TLAST.
        starts = np.zeros(n, dtype=bool)
        if n:
            starts[1:] = last[:-1]
        frame = self._frame + np.cumsum(starts)
        start_of = np.maximum.accumulate(np.where(starts, index, -1))
        place = np.where(start_of < 0, self._place + index, index - start_of)
        if n:
            self._frame = int(frame[-1]) + int(last[-1])
            self._place = 0 if last[-1] else int(place[-1]) + 1
        return frame, place

    def expect(self, data, last, count=True):
        """Expected output codes of the next beats (``data``, ``(beats, lanes)`` input codes,
        with their TLAST flags ``last``), and their events added to the counts when
        ``count``. Returns ``(outputs, events)``: events as ``{name: (beats, lanes) bool}``."""
        spec = self._spec
        data = np.asarray(data, dtype=np.int64)
        frame, place = self.places(last)
        sets = np.searchsorted(self._starts, frame, side="right") - 1
        groups = place % spec.channel_groups
        y = np.zeros(data.shape, dtype=np.int64)
        r = np.zeros(data.shape, dtype=np.int64)
        unclipped = np.zeros(data.shape, dtype=np.int64)
        clip = np.full(data.shape, np.iinfo(np.int64).max, dtype=np.int64)
        for s, g in set(zip(sets.tolist(), groups.tolist())):
            rows = (sets == s) & (groups == g)
            plain = self._spec_for(s, g)
            x = data[rows]
            y[rows] = golden(plain, x)
            r[rows] = rounded(plain, x)
            if plain.max_value_q is not None:
                free = Spec(**dict(plain.options(), max_value=None))
                unclipped[rows] = rounded(free, x)
                clip[rows] = plain.max_value_q.code
        lo, hi = spec.output_range
        saturating = spec.overflow != "wrap"
        events = {
            "negative": data < 0,
            "zero": y == 0,
            "clip": unclipped > clip,
            "sat_high": (r > hi) & saturating,
            "sat_low": (r < lo) & saturating,
        }
        if count:
            self.add(events, last, y)
        return y, events

    def add(self, events, last, outputs):
        """Count ``events`` of output beats (with TLAST flags ``last`` and ``outputs``)."""
        self.beats += len(outputs)
        self.frames += int(np.count_nonzero(last))
        for name in EVENTS:
            self.counts[name] += events[name].sum(axis=0)
        self.alive |= (np.asarray(outputs) != 0).any(axis=0)

    def counters(self):
        """What the counter registers read after every beat so far (and a snapshot):
        ``{register name: value}``, saturated at :data:`COUNTER_MAX`."""
        spec = self._spec
        out = {"FRAMES": min(self.frames, COUNTER_MAX), "BEATS": min(self.beats, COUNTER_MAX),
               "ALIVE": int(sum(1 << k for k in range(spec.lanes) if self.alive[k]))}
        regmap = RegisterMap(spec) if spec.control != "none" else None
        for name in EVENTS:
            for k in range(spec.lanes):
                register = f"{_COUNTER_NAMES[name]}{k}"
                if regmap is None or register in regmap:
                    out[register] = min(int(self.counts[name][k]), COUNTER_MAX)
        return out


def telemetry_summary(spec, beats, frames, counts, alive):
    """Per-lane rates from counts (``{event: per-lane counts}``) over ``beats`` output beats:
    sparsity (zero outputs), negative inputs, clips, saturations high and low, and the dead
    lanes (no non-zero output), as a JSON-ready dict."""
    lanes = spec.lanes

    def rate(name):
        return [round(int(counts[name][k]) / beats, 6) if beats else 0.0 for k in range(lanes)]
    return {
        "beats": int(beats), "frames": int(frames),
        "sparsity": rate("zero"), "negative": rate("negative"), "clip": rate("clip"),
        "sat_high": rate("sat_high"), "sat_low": rate("sat_low"),
        "dead_lanes": [k for k in range(lanes) if not alive[k]],
    }
