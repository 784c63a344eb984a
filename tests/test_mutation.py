# SPDX-License-Identifier: Apache-2.0
"""Mutation testing: every deliberate gateware mutant (tests/mutants.py) must be caught by the
simulation checks and/or the formal proofs, and the unmutated design must pass them all."""

import pytest

from relu_hw.gateware import ActivationPipeline
from relu_hw.spec import Spec

from .workdirs import work_dir

from .mutants import CHECKS, MUTANTS, AnchorMissing, Mutant, mutation_table, run_checks

WORKDIR = work_dir("test-mutation")

# The minimum set of faults the suite must catch, by the mutant that stands for each.
REQUIRED = {
    "wrong tie-breaking in rounding": "tie_to_odd",
    "missing saturation": "no_saturation",
    "payload changing while stalled": "payload_unstable",
    "a beat dropped when the skid buffer is full": "skid_drop",
    "TLAST misaligned by one beat": "tlast_lag",
    "a sign test on the wrong bit": "sign_bit",
    "ready combinationally dependent where it must be registered": "comb_ready",
}


@pytest.fixture(scope="module")
def results():
    """``{mutant name: {check: [problems]}}`` for every mutant, run once for this module."""
    return {mu.name: run_checks(mu.spec, mu.pipeline_class(), f"mutant_{mu.name}", WORKDIR)
            for mu in MUTANTS}


def test_required_mutants_exist():
    names = {mu.name for mu in MUTANTS}
    assert set(REQUIRED.values()) <= names
    assert len(names) == len(MUTANTS)


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mu: mu.name)
def test_mutant_is_caught(mutant, results):
    found = results[mutant.name]
    caught = [check for check in CHECKS if found[check]]
    assert caught, f"mutant {mutant.name} ({mutant.description}) survived every check"
    assert mutant.primary in caught, (mutant.name, {c: found[c] for c in caught})


@pytest.mark.parametrize("config", sorted({tuple(sorted(mu.config.items())) for mu in MUTANTS}),
                         ids=lambda c: "-".join(f"{v}" for k, v in c if k in ("kind", "lanes",
                                                                            "stages")))
def test_unmutated_design_passes_every_check(config):
    # No false alarms: the checks that kill the mutants pass on the real design.
    spec = Spec(**dict(config))
    name = "clean_" + "_".join(f"{k}{v}" for k, v in config if k in ("kind", "lanes",
                                                                     "stages", "ready"))
    found = run_checks(spec, ActivationPipeline, name.replace("/", "_"), WORKDIR)
    assert found == {check: [] for check in CHECKS}


def test_missing_anchor_fails_loudly():
    ghost = Mutant("ghost", "edits code that is not there", "datapath",
                   (("this text is not in the datapath", "x"),), dict(kind="relu"), "golden")
    with pytest.raises(AnchorMissing, match="ghost.*occurs 0 times.*update the mutant"):
        ghost.pipeline_class()


def test_mutation_table(results, capsys):
    # Names the checks that caught each mutant.
    table = mutation_table(results)
    with capsys.disabled():
        print("\n" + table)
    assert "NOTHING" not in table
    assert table.count("\n") == len(MUTANTS) + 1
