"""Every workflow's seeds, pinned: one seeding helper, the same numbers as before it.

The values below were computed with each module's own SeedSequence code before the
workflows shared :mod:`kamabm.experiments.seeds`; committed results in ``results/`` were
made with them, so a change here means those results no longer reproduce.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from kamabm.diagnosis.runs import run_seeds
from kamabm.experiments import seeds
from kamabm.experiments.calibration_fit import particle_seeds, particle_state
from kamabm.experiments.design import Design, Variable
from kamabm.experiments.ensemble import Ensemble
from kamabm.experiments.files import load_experiment, parse_experiment
from kamabm.experiments.screening import parse_screening

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENT = """name = "pin"
seed = 20261127
replications = 3
horizon = 24
[uncertainties.client_revenue_share]
values = [0.2, 0.8]
[levers.kam_pressure]
values = [0.1, 0.9]
"""


def test_a_sweeps_seeds_are_pinned_with_and_without_common_random_numbers() -> None:
    exp = parse_experiment(EXPERIMENT)
    assert [exp.seed_for(0, r) for r in range(3)] == [
        2192470800624289418, 1928974232332108746, 3958756208303465636]
    assert [s.seed for s in exp.runs()][:3] == [exp.seed_for(5, r) for r in range(3)]
    own = dataclasses.replace(exp, common_random_numbers=False)
    assert [own.seed_for(p, r) for p, r in [(0, 0), (1, 2), (3, 1)]] == [
        7355079227191093885, 5644514963540715204, 4536438630826090671]
    assert [own.seed_for(p, r, d) for p, r, d in [(0, 0, 1), (2, 1, 3)]] == [
        4797781651835294370, 4654116742939916700]


def test_sampled_designs_draw_the_pinned_points() -> None:
    exp = parse_experiment(EXPERIMENT)
    sampled = (Variable("client_revenue_share", "uncertainty", 0.1, 0.9, None),
               Variable("kam_pressure", "lever", 0.0, 1.0, None))
    lhs = dataclasses.replace(exp, variables=sampled, design=Design("latin_hypercube", 4))
    assert lhs._unit_samples()[0].tolist() == pytest.approx(
        [0.061899754199, 0.809518186061], abs=1e-12)
    sobol = dataclasses.replace(lhs, design=Design("sobol", 2))
    assert sobol._unit_samples()[2].tolist() == pytest.approx(
        [0.109859375283, 0.296924424358], abs=1e-12)


def test_a_screenings_seeds_are_pinned() -> None:
    screening = parse_screening('name = "s"\nseed = 7\ntrajectories = 2\nreplications = 3\n'
                                'outcomes = ["capture_rate"]\n')
    assert screening.seeds() == [6716045083268726496, 7764645870245362157,
                                 9015536141025813560]
    assert seeds.spawned_seed32(7, (1,)) == 1809491585  # the Morris sampler's seed


def test_a_calibrations_seeds_are_pinned() -> None:
    class Calibration:
        seed, replications = 11, 3

    assert particle_seeds(Calibration, {"theta": 4.5, "min_margin": 0.2}) == [  # type: ignore[arg-type]
        8324480577197918397, 2979125898334832707, 8662287724406719573]
    assert particle_state(11, -1, 0) == [1926383459, 914257217, 2880094716, 681398388]
    assert particle_state(11, 3, 17) == [1932277484, 1522900718, 1024745432, 3546702155]


def test_a_diagnosis_and_an_ensemble_draw_the_pinned_numbers() -> None:
    assert run_seeds(5, 0, 3) == [3633826612170223993, 3508924886369872888,
                                  9205317878091524501]
    assert run_seeds(5, 1, 2) == [8444537220502093073, 3957388625231936292]
    assert seeds.spawned_generator(5, (2,)).random(2).tolist() == [
        0.6337294897074003, 0.2927947888232587]  # the diagnosis's bootstrap
    assert seeds.spawned_generator(9, (3,)).random(3).tolist() == [
        0.7466226350899471, 0.46263091731038997, 0.575374018283438]  # an ensemble's draws


def test_the_helpers_are_the_seedsequence_derivations_they_replace() -> None:
    for master, key in [(0, (0, 1)), (2**40 + 3, (1, 7, 2)), (99, (2,))]:
        state = np.random.SeedSequence(master, spawn_key=key).generate_state(1, np.uint64)
        assert seeds.spawned_seed(master, key) == int(state[0] >> np.uint64(1))
        assert seeds.spawned_seed32(master, key) == int(
            np.random.SeedSequence(master, spawn_key=key).generate_state(1)[0] >> 1)
    words = np.random.SeedSequence([3, 4, 5]).generate_state(5, np.uint64)
    assert seeds.entropy_seeds([3, 4, 5], 5) == [int(w >> np.uint64(1)) for w in words]


def test_committed_results_keep_their_seeds() -> None:
    """The headline's typical runs and the ensemble's drawn particles, as committed."""
    manifest = json.loads((ROOT / "results/capture_phase/manifest.json").read_text())
    experiment = load_experiment(ROOT / "experiments/capture_phase.toml")
    assert experiment.seed == manifest["experiment"]["seed"]
    for run in manifest["typical_runs"]["runs"]:
        assert experiment.seed_for(run["point"], run["replication"]) == run["seed"]
    described = json.loads((ROOT / "results/capture_ensemble/manifest.json").read_text())[
        "experiment"]
    ens = described["ensemble"]
    ensemble = Ensemble(ens["posterior"], ens["text"], ens["draws"], ens["sample"],
                        tuple(ens["columns"]), ens["defaults"])
    drawn = [row["particle"] for row in ens["table"] if row["particle"] is not None]
    assert ensemble.chosen(described["seed"]) == drawn
