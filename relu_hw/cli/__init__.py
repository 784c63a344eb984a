# SPDX-License-Identifier: Apache-2.0
"""The ``relu-hw`` command line: the only layer that parses arguments or prints.

:mod:`.options` holds the options every subcommand shares; :mod:`.main` the parser, the
``generate``, ``simulate`` and ``build`` subcommands and :func:`main`; :mod:`.verify` and
:mod:`.flows` the other subcommands.
"""

from .main import main

__all__ = ["main"]
