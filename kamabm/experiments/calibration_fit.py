"""Fitting a calibration by ABC-SMC, and the tables of what it found.

:func:`fit` runs ABC-SMC (Sisson et al. 2007; Toni et al. 2009) through pyabc (the
optional extra ``kamabm[calibrate]``) on a :class:`~kamabm.experiments.calibration.Calibration`.
A particle is one set of the fitted constants; it is simulated by running the model
``replications`` times at every setting the targets name, with the same seeds at each
setting (common random numbers, so changes are paired), and its distance to the
published numbers is ``sqrt(sum(((model - value) / tolerance) ** 2))`` (a one-sided target,
"at most" or "at least" a value, adds nothing on its side of the bound): a distance of 1
means the targets are matched to within their tolerances jointly. The history lives in an
SQLite file in the results folder, so a stopped fit resumes from its last finished
generation. The accepted particles of the last generation are the posterior.

Seeds: a particle's runs use seeds spawned (:mod:`kamabm.experiments.seeds`) from
the master seed and the particle's values, so the same constants always give the same
summary statistics; the sampling of each particle (from the prior, or perturbed from the
previous generation) is seeded from the master seed, the generation and the particle's
place in the generation (:func:`seeded_sampler`), and a generation keeps the first
particles of that sequence it accepts, not the first to arrive: the same file gives the
same posterior on one worker, on many, or on Dask (:data:`REPRODUCIBLE`), and a resumed
fit the same as one never stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.experiments.backends import check_stop, signals_at_safe_points, wait_first
from kamabm.experiments.calibration import (
    MEASURES,
    AbcSettings,
    Calibration,
    CalibrationError,
    Prior,
    Target,
)
from kamabm.experiments.seeds import entropy_seeds, entropy_words
from kamabm.model.batch import DEFAULT_ENGINE, check_engine
from kamabm.model.params import Parameters
from kamabm.stats import weighted_quantiles

RunFunction = Callable[[Parameters, int], Mapping[str, Any]]
Simulator = Callable[[Mapping[str, float]], dict[str, float]]

DB, POSTERIOR, TARGETS_CSV, POPULATIONS, MANIFEST, SPEC, CONSTANTS_CSV = (
    "abc.db", "posterior.csv", "targets.csv", "populations.csv", "manifest.json",
    "calibration.json", "constants.csv")
#: A constant counts as pinned by the data when its posterior's central half is at most
#: this share of its prior's central half (0.5: the data halved the plausible range).
PINNED_SHARE = 0.5
#: Interval of the predictive checks in the chart and targets table.
INTERVAL = (0.05, 0.95)


# --- simulating one particle ------------------------------------------------------------
def particle_seeds(calibration: Calibration, values: Mapping[str, float]) -> list[int]:
    """Replication seeds of a particle: spawned from the master seed and its values."""
    blob = json.dumps({k: float(values[k]) for k in sorted(values)}).encode()
    words = np.frombuffer(hashlib.sha256(blob).digest(), dtype=np.uint32)
    return entropy_seeds([calibration.seed, *map(int, words)], calibration.replications)


def summary_statistics(calibration: Calibration, values: Mapping[str, float], *,
                       run_fn: RunFunction | None = None,
                       engine: str = DEFAULT_ENGINE) -> dict[str, float]:
    """The model's value of every target for one set of fitted constants.

    Each setting is run ``replications`` times on the particle's seeds (the same seeds at
    every setting); each target's measure reads its outcome's values at its settings.
    A target whose value is undefined (e.g. a change from a zero mean) gets NaN, which
    pyabc treats as an infinite distance, so the particle is rejected.

    The model's runs of a particle are one :func:`kamabm.model.batch.run_many` call on
    ``engine``; ``run_fn`` (tests) is called run by run instead.
    """
    params = calibration.base.replace(**{k: float(v) for k, v in values.items()})
    seeds = particle_seeds(calibration, values)
    outcomes = {t.outcome for t in calibration.targets}
    settings = list(calibration.settings)
    batch = [(params.replace(**dict(setting)), seed) for setting in settings for seed in seeds]
    results: Sequence[Mapping[str, Any]]
    if run_fn is None:
        from kamabm.model.batch import run_many

        results = run_many([p for p, _ in batch], [s for _, s in batch], engine=engine)
    else:
        results = [run_fn(here, seed) for here, seed in batch]
    found: dict[tuple, dict[str, np.ndarray]] = {}
    for i, setting in enumerate(settings):
        runs = results[i * len(seeds):(i + 1) * len(seeds)]
        found[setting] = {o: np.array([np.nan if r[o] is None else float(r[o]) for r in runs])
                          for o in outcomes}
    stats = {}
    for t in calibration.targets:
        value = MEASURES[t.measure](*(found[s][t.outcome] for s in t.settings))
        stats[t.name] = float(value) if math.isfinite(value) else float("nan")
    return stats


@dataclass
class ModelSimulator:
    """The model as pyabc sees it: fitted constants in, target values out (picklable)."""

    calibration: Calibration
    run_fn: RunFunction | None = None
    engine: str = DEFAULT_ENGINE

    def __call__(self, parameter: Mapping[str, float]) -> dict[str, float]:
        """Simulate one particle."""
        values = {p.name: float(parameter[p.name]) for p in self.calibration.priors}
        return summary_statistics(self.calibration, values, run_fn=self.run_fn,
                                  engine=self.engine)


@dataclass(frozen=True)
class TargetDistance:
    """The ABC distance: ``sqrt(sum(gap ** 2))`` over the fitted targets (:meth:`Target.gap`).

    A gap is the model's miss in tolerances, 0 inside a one-sided bound; so a distance of 1
    means the targets are met within their tolerances jointly. An undefined statistic
    (NaN) makes the distance infinite: the particle is rejected. Picklable, for workers.
    """

    targets: tuple[Target, ...]

    def __call__(self, x: Mapping[str, float], x_0: Mapping[str, float]) -> float:
        """Distance of simulated statistics ``x`` (``x_0``, the observed, is unused)."""
        gaps = [t.gap(float(x[t.name])) for t in self.targets]
        return math.inf if any(math.isnan(g) for g in gaps) else math.sqrt(
            sum(g * g for g in gaps))


def prior_rv(pyabc: Any, prior: Prior) -> Any:
    """A prior as pyabc's random variable: uniform, or log-uniform, over its range."""
    if prior.scale == "log":
        return pyabc.RV("loguniform", prior.low, prior.high)
    return pyabc.RV("uniform", prior.low, prior.high - prior.low)


# --- sampling: particles seeded by their place, workers that cannot outlive the fit ------
#: How the fit's reproducibility is stated in its manifest and last lines.
REPRODUCIBLE = ("the same file and seed give the same posterior whatever the number of "
                "workers (or a Dask cluster): each particle's random draws are seeded from "
                "the master seed, its generation and its place in the generation's "
                "sequence, and a generation takes the first particles of that sequence "
                "that it accepts, not the first to arrive")


def particle_state(master: int, t: int, job: int) -> list[int]:
    """The random state of particle ``job`` of generation ``t``, as 32-bit words.

    Spawned from the master seed (:func:`kamabm.experiments.seeds.entropy_words`); ``t`` is ``-1``
    for pyabc's calibration sample.
    """
    return entropy_words([master, t + 1, job], 4)


def simulate_particle(simulate_one: bytes, state: Sequence[int]) -> Any:
    """Sample and simulate one particle from a fresh copy of pyabc's ``simulate_one``.

    Runs in a worker process (or in the fit's own). The global random generators that
    pyabc, SciPy and a simulator draw from are seeded with ``state`` first, and the
    function is unpickled anew for every particle, so that a particle depends only on
    the generation's pickled function and its state, never on which process computed it
    or what ran there before.
    """
    import cloudpickle

    check_stop()  # a worker of a stopped fit drops the particle
    np.random.seed(np.asarray(state, dtype=np.uint32))
    random.seed(int.from_bytes(np.asarray(state, dtype=np.uint32).tobytes(), "little"))
    return cloudpickle.loads(simulate_one)()


def seeded_sampler(seed: int, executor: Executor | None = None, slots: int = 1) -> Any:
    """A pyabc sampler whose populations do not depend on the number of workers.

    Particle ``j`` of generation ``t`` is sampled and simulated with the random state
    :func:`particle_state` ``(seed, t, j)``; the generation is the shortest run of
    consecutive particles ``0 .. k`` that holds the population's accepted ones, whichever
    finished first, and pyabc is told it took ``k + 1`` evaluations (so acceptance rates
    and stopping rules are deterministic too; particles computed beyond it are
    discarded). A generation that would need more than pyabc's ``max_eval`` evaluations
    is abandoned, as pyabc's own samplers do.

    Args:
        seed: the master seed.
        executor: where particles are computed (a :class:`concurrent.futures.Executor`:
            a local pool, a Dask client's executor); ``None`` computes them here.
        slots: particles in flight at once on ``executor``.

    """
    import cloudpickle
    import pyabc

    class SeededSampler(pyabc.sampler.Sampler):  # type: ignore[misc]
        def sample_until_n_accepted(self, n: int, simulate_one: Callable[[], Any], t: int,
                                    *, max_eval: float = np.inf, all_accepted: bool = False,
                                    ana_vars: Any = None) -> Any:
            blob = cloudpickle.dumps(simulate_one)
            done: dict[int, Any] = {}
            pending: dict[Future[Any], int] = {}
            taken = accepted = submitted = 0
            # stop signals wait for a point where no lock of the pool's futures is taken
            # (computed here, a particle holds no such lock: signals act at once)
            holding = (signals_at_safe_points() if executor is not None
                       else nullcontext(lambda: None))
            with holding as deliver:
                try:
                    while accepted < n and taken < max_eval:
                        if executor is None:
                            done[submitted] = simulate_particle(
                                blob, particle_state(seed, t, submitted))
                            submitted += 1
                        else:
                            while len(pending) < slots and submitted < max_eval:
                                deliver()
                                future = executor.submit(simulate_particle, blob,
                                                         particle_state(seed, t, submitted))
                                pending[future] = submitted
                                submitted += 1
                            finished, _ = wait_first(pending, deliver)
                            for future in finished:
                                done[pending.pop(future)] = future.result()
                        while taken in done and accepted < n and taken < max_eval:
                            accepted += bool(done[taken].accepted)
                            taken += 1
                finally:
                    for future in pending:
                        future.cancel()
            sample = self._create_empty_sample()
            for job in range(taken):
                sample.append(done[job])
            self.nr_evaluations_ = taken
            if accepted < n:
                sample.ok = False
            return sample

    return SeededSampler()


# --- fitting ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FitSummary:
    """What a call of :func:`fit` did and found."""

    directory: Path
    generations: int
    simulations: int
    epsilon: float
    wall_time: float
    resumed_from: int
    posterior: pd.DataFrame
    targets: pd.DataFrame
    stopped_because: str


def fit(calibration: Calibration, out: str | Path, *, workers: int | None = None,
        simulator: Simulator | None = None, scheduler: str | None = None,
        overwrite: bool = False, progress: bool = False,
        notify: Callable[[str], None] | None = None,
        results: str | Path | None = None, engine: str = DEFAULT_ENGINE) -> FitSummary:
    """Fit the calibration's priors by ABC-SMC (pyabc), resuming a stopped fit.

    The fit is reproducible: the same calibration (and seed) gives the same posterior on
    any number of workers (:data:`REPRODUCIBLE`, :func:`seeded_sampler`). Local workers
    are started with ``spawn`` and leave by themselves when the fit ends or is killed
    (:class:`kamabm.experiments.backends.LocalPool`); no process is forked.

    Args:
        calibration: the validated calibration.
        out: the results folder (created if missing); holds ``abc.db`` (pyabc's history),
            ``posterior.csv``, ``targets.csv``, ``populations.csv`` and a manifest.
        workers: local processes (default: the available cores); 1 samples in this
            process.
        simulator: particle values -> target values (default: the model,
            :class:`ModelSimulator`); tests pass toy simulators (picklable by
            reference, i.e. defined at module level, when ``workers`` > 1).
        scheduler: address of a Dask scheduler to sample on instead of local processes.
        overwrite: start afresh in a folder holding another calibration's history.
        progress: print a line per generation on stderr.
        notify: called with one-line notices ("resuming the calibration at generation
            g"); default: none.
        results: folder for the tables and manifest (default ``out``), e.g. a staging
            folder the caller moves into place.
        engine: the model's engine (default simulator only): ``"compiled"`` (default) or
            ``"mesa"``. Both give the same numbers, so the posterior does not depend on it
            and a fit stopped on one engine resumes on the other.

    Raises:
        ParameterError: ``engine`` is not an engine.
        CalibrationError: pyabc is missing, or the folder holds another calibration.
        FolderLockedError: another process is writing the folder.
        kamabm.experiments.sweep.SweepInterrupted: SIGTERM or SIGHUP (KeyboardInterrupt
            on Ctrl-C), after the workers are stopped; the finished generations are in
            the history, and running the fit again resumes it.

    """
    try:
        import pyabc
    except ImportError:
        raise CalibrationError("pyabc is not installed; install the extra: "
                               "pip install -e '.[calibrate]'") from None
    from kamabm.experiments.backends import LocalPool, available_cores
    from kamabm.experiments.lock import folder_lock
    from kamabm.experiments.sweep import stop_on_signals

    check_engine(engine)
    start = time.perf_counter()
    directory = Path(out)
    target = Path(results) if results is not None else directory
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / DB
    model = simulator or ModelSimulator(calibration, engine=engine)
    n_workers = workers or available_cores()
    url = f"sqlite:///{db.resolve()}"
    with ExitStack() as stack:
        stack.enter_context(folder_lock(directory, purpose="calibration"))
        _claim(directory, calibration, overwrite)
        for name in ("ABC", "pyabc"):
            logging.getLogger(name).setLevel(logging.WARNING)
        stack.enter_context(stop_on_signals())
        executor: Executor | None = None
        slots = 1
        pool: LocalPool | None = None
        if scheduler:
            from distributed import Client

            client = Client(scheduler)
            stack.callback(client.close)
            executor = client.get_executor()
            slots = max(1, sum(client.ncores().values()))
        elif n_workers > 1:
            pool = stack.enter_context(LocalPool(n_workers))
            executor = pool.executor(calibration.runs_per_particle)
            slots = n_workers + 1  # one queued, so that no worker waits for the next
        sampler = seeded_sampler(calibration.seed, executor, slots)

        def new_abc() -> Any:
            prior = pyabc.Distribution(**{p.name: prior_rv(pyabc, p) for p in calibration.priors})
            distance = pyabc.distance.FunctionDistance(TargetDistance(
                tuple(t for t in calibration.targets if t.fitted)))
            eps = pyabc.epsilon.QuantileEpsilon(alpha=calibration.abc.epsilon_quantile)
            return pyabc.ABCSMC(model, prior, distance, eps=eps,
                                population_size=calibration.abc.population, sampler=sampler)

        np.random.seed(calibration.seed % 2**32)
        history = pyabc.History(url) if db.exists() else None
        if history is not None and not history.all_runs():
            history = None
        resumed_from = history.max_t + 1 if history is not None else 0
        if history is None:
            new_abc().new(url, calibration.observed, meta_info={"kamabm": calibration.name})
        elif notify is not None and resumed_from > 0:
            notify(f"resuming the calibration at generation {resumed_from} ({resumed_from} "
                   f"generation{'s' if resumed_from != 1 else ''} stored in {db})")
        history, populations, reason = _generations(calibration, new_abc, url, start,
                                                    progress)
        if pool is not None:
            pool.stop_now()  # particles still computing are beyond the last generation
    if history.max_t < 0:
        raise CalibrationError(f"no generation finished ({reason}); widen the tolerances or "
                               "lower abc.min_acceptance_rate")
    posterior = posterior_table(history, calibration)
    targets = targets_table(history, calibration)
    target.mkdir(parents=True, exist_ok=True)
    _atomic_csv(posterior, target / POSTERIOR)
    _atomic_csv(targets, target / TARGETS_CSV)
    _atomic_csv(constants_table(posterior, calibration), target / CONSTANTS_CSV)
    _atomic_csv(populations, target / POPULATIONS)
    wall = time.perf_counter() - start
    _write_manifest(target, calibration, history, wall=wall, workers=n_workers,
                    scheduler=scheduler, resumed_from=resumed_from, reason=reason,
                    engine=engine if simulator is None else None)
    return FitSummary(directory, int(history.max_t) + 1, int(history.total_nr_simulations),
                      float(populations["epsilon"].iloc[-1]), wall, resumed_from, posterior,
                      targets, reason)


def _generations(calibration: Calibration, new_abc: Callable[[], Any], url: str,
                 start: float, progress: bool) -> tuple[Any, pd.DataFrame, str]:
    """Run generation after generation until a stopping rule holds.

    Each generation is run by a fresh ABCSMC loaded from the history, exactly as a fit
    resumed after an interruption (pyabc sets the next tolerance when it loads).
    """
    while True:
        abc = new_abc()
        history = abc.load(url, 1)
        populations = history.get_all_populations()
        populations = populations[populations["t"] >= 0]
        reason = _stop_reason(calibration.abc, populations, history.total_nr_simulations)
        if reason:
            return history, populations, reason
        abc.run(minimum_epsilon=calibration.abc.min_epsilon, max_nr_populations=1,
                min_acceptance_rate=calibration.abc.min_acceptance_rate)
        if history.max_t < len(populations):  # pyabc abandoned the generation
            return history, populations, (
                f"generation {len(populations)} would accept fewer than "
                f"{calibration.abc.min_acceptance_rate:g} of its particles")
        if progress:
            last = history.get_all_populations().iloc[-1]
            print(f"generation {int(last['t'])}: epsilon {last['epsilon']:.3g}, "
                  f"{int(last['samples'])} particles simulated, "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


def generations_stored(directory: str | Path) -> int:
    """Generations the history of a calibration folder holds (0 without one)."""
    db = Path(directory) / DB
    if not db.is_file():
        return 0
    try:
        import pyabc

        return int(pyabc.History(f"sqlite:///{db.resolve()}").max_t) + 1
    except Exception:  # noqa: BLE001 -- an unreadable history holds none to speak of
        return 0


def _stop_reason(abc: AbcSettings, populations: pd.DataFrame, simulations: int) -> str:
    """Why the fit is finished, or "" to run another generation."""
    if populations.empty:
        return ""
    last = populations.iloc[-1]
    if len(populations) >= abc.generations:
        return f"{abc.generations} generations"
    if last["epsilon"] <= abc.min_epsilon:
        return f"epsilon {last['epsilon']:.3g} <= {abc.min_epsilon:g}"
    if len(populations) >= 2:
        before = populations["epsilon"].iloc[-2]
        if last["epsilon"] > (1.0 - abc.min_epsilon_drop) * before:
            return (f"epsilon stalled ({before:.3g} -> {last['epsilon']:.3g}, less than "
                    f"{abc.min_epsilon_drop:.0%} lower)")
    if last["particles"] / last["samples"] < abc.min_acceptance_rate:
        return f"acceptance rate below {abc.min_acceptance_rate:g}"
    if simulations >= abc.max_simulations:
        return f"{simulations} simulations >= {abc.max_simulations}"
    return ""


def _claim(directory: Path, calibration: Calibration, overwrite: bool) -> None:
    """Make the folder this calibration's, refusing one that holds another's history."""
    marker = directory / SPEC
    if marker.exists():
        old = json.loads(marker.read_text(encoding="utf-8")).get("digest")
        if old != calibration.digest:
            if not overwrite:
                raise CalibrationError(f"{directory}: holds the history of another "
                                       "calibration (the file changed); use --overwrite or "
                                       "another --out")
            (directory / DB).unlink(missing_ok=True)
    elif (directory / DB).exists() and not overwrite:
        raise CalibrationError(f"{directory}: holds an {DB} of unknown origin; use --overwrite")
    elif (directory / DB).exists():
        (directory / DB).unlink()
    spec = {"name": calibration.name, "digest": calibration.digest, "quick": calibration.quick,
            "text": calibration.text}
    _atomic_text(json.dumps(spec, indent=1), marker)


# --- results ----------------------------------------------------------------------------
def posterior_table(history: Any, calibration: Calibration) -> pd.DataFrame:
    """The last generation's accepted particles: fitted values, weight, distance, targets."""
    population = history.get_population(history.max_t)
    rows = []
    for particle in population.particles:
        row = {p.name: float(particle.parameter[p.name]) for p in calibration.priors}
        row["weight"] = float(particle.weight)
        row["distance"] = float(particle.distance)
        row.update({f"model_{k}": float(v) for k, v in particle.sum_stat.items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["weight"] /= table["weight"].sum()
    table.insert(0, "generation", int(history.max_t))
    return table


def _predictive(history: Any, t: int, calibration: Calibration) -> dict[str, tuple]:
    population = history.get_population(t)
    weights = np.array([p.weight for p in population.particles], dtype=float)
    out = {}
    for target in calibration.targets:
        values = np.array([p.sum_stat[target.name] for p in population.particles], float)
        ok = np.isfinite(values)
        mean_value = float(np.average(values[ok], weights=weights[ok])) if ok.any() else np.nan
        low, high = (weighted_quantiles(values, weights, INTERVAL) if ok.any()
                     else (np.nan, np.nan))
        out[target.name] = (mean_value, float(low), float(high))
    return out


def targets_table(history: Any, calibration: Calibration) -> pd.DataFrame:
    """Each target against the model: generation 0 (near the prior) and the posterior.

    Generation 0 holds the prior's particles accepted at the first, loose tolerance, so its
    interval is close to the prior predictive one; ``first_*`` columns describe it.
    """
    first, last = _predictive(history, 0, calibration), _predictive(
        history, history.max_t, calibration)
    rows = []
    for t in calibration.targets:
        rows.append({
            "target": t.name, "source": t.source, "measure": t.measure, "outcome": t.outcome,
            "value": t.value, "tolerance": t.tolerance,
            "first_mean": first[t.name][0], "first_low": first[t.name][1],
            "first_high": first[t.name][2],
            "posterior_mean": last[t.name][0], "posterior_low": last[t.name][1],
            "posterior_high": last[t.name][2],
            "bound": t.bound, "fitted": t.fitted, "matched": t.matched(last[t.name][0])})
    return pd.DataFrame(rows)


def constants_table(posterior: pd.DataFrame, calibration: Calibration) -> pd.DataFrame:
    """Posterior against prior, one row per fitted constant: what the data pin.

    Columns: ``constant``, ``default`` (the model's), ``prior_low``, ``prior_high``,
    ``scale``, the prior's quartiles (``prior_q25``, ``prior_q75``), the posterior's weighted
    5, 25, 50, 75 and 95 % quantiles, ``narrowing`` (posterior central half over the
    prior's, on the prior's scale: 1 = the data say nothing), ``pinned`` (narrowing at
    most :data:`PINNED_SHARE`) and ``default_in_central_half``.
    """
    rows = []
    weights = posterior["weight"].to_numpy(float)
    for prior in calibration.priors:
        values = posterior[prior.name].to_numpy(float)
        q05, q25, q50, q75, q95 = weighted_quantiles(values, weights,
                                                      (0.05, 0.25, 0.5, 0.75, 0.95))
        p25, p75 = prior.quantile(0.25), prior.quantile(0.75)
        on_scale = np.log if prior.scale == "log" else (lambda v: v)
        narrowing = float((on_scale(q75) - on_scale(q25)) / (on_scale(p75) - on_scale(p25)))
        default = float(Parameters.default(prior.name))
        rows.append({"constant": prior.name, "default": default, "prior_low": prior.low,
                     "prior_high": prior.high, "scale": prior.scale, "prior_q25": p25,
                     "prior_q75": p75, "posterior_q05": float(q05), "posterior_q25": float(q25),
                     "posterior_median": float(q50), "posterior_q75": float(q75),
                     "posterior_q95": float(q95), "narrowing": narrowing,
                     "pinned": narrowing <= PINNED_SHARE,
                     "default_in_central_half": bool(q25 <= default <= q75)})
    return pd.DataFrame(rows)


def _atomic_csv(frame: pd.DataFrame, target: Path) -> None:
    tmp = target.with_name(".tmp-" + target.name)
    frame.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, target)


def _atomic_text(text: str, target: Path) -> None:
    tmp = target.with_name(".tmp-" + target.name)
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, target)


def _write_manifest(directory: Path, calibration: Calibration, history: Any, *, wall: float,
                    workers: int, scheduler: str | None, resumed_from: int,
                    reason: str, engine: str | None) -> None:
    from kamabm.experiments.provenance import environment, now

    manifest = {
        "kind": "abc_smc_calibration", "name": calibration.name, "quick": calibration.quick,
        "digest": calibration.digest, "finished": now(), "command": " ".join(sys.argv),
        "generations": int(history.max_t) + 1, "resumed_from_generation": resumed_from,
        "simulations": int(history.total_nr_simulations),
        "model_runs": int(history.total_nr_simulations) * calibration.runs_per_particle,
        "runs_per_particle": calibration.runs_per_particle, "stopped_because": reason,
        "wall_time_s_this_call": round(wall, 2), "workers": workers, "scheduler": scheduler,
        "engine": engine,
        "reproducible": REPRODUCIBLE,
        "abc": calibration.abc.__dict__, "replications": calibration.replications,
        "targets": [t.name for t in calibration.targets],
        "targets_left_out": list(calibration.skipped),
        "priors": [p.__dict__ for p in calibration.priors],
        "calibration_file": calibration.text, **environment()}
    _atomic_text(json.dumps(manifest, indent=1, default=str), directory / MANIFEST)
