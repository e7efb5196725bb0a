"""Morris screening of every parameter and structural constant on the key outcomes.

Elementary effects (Morris 1991, SALib's sampler and estimator) over every field of
:class:`kamabm.model.params.Parameters` at once, structural constants included, each over its
declared range (or a narrower one the screening file gives). The factors are found by
iterating over the parameter object, so a field added to it is screened without any
change here; only run control (group ``run``), the fields the file excludes and those it
fixes in ``[base]`` are left out.

A screening file looks like this::

    name = "screening"
    seed = 20261127
    horizon = 60                       # months, sets horizon_months
    trajectories = 20                  # Morris trajectories (r); runs = r (k + 1) x replications
    levels = 4                         # grid levels of the Morris design (even)
    replications = 2                   # runs per design point, averaged (common random numbers)
    outcomes = ["capture_rate", "key_account_margin", "supplier_margin"]
    optional_outcomes = ["captured_months"]   # used when the model reports them
    exclude = ["pressure_change_month", "pressure_after_change"]

    [base]                             # fixed, not screened
    n_smb_clients = 100

    [ranges]                           # narrower ranges than the declared ones
    n_smb_clients = [50, 500]

Elementary effects are computed in the unit cube (each factor's range mapped to [0, 1]),
so ``mu_star`` is the mean absolute change of an outcome when a factor moves by the
design's step, expressed per full range: factors with different units are comparable.
Whole-number factors are rounded onto their range after scaling, as in sweeps.

The runs go through the sweep's runner (:func:`kamabm.experiments.sweep.run_sweep`): the
screening is an experiment whose design is the Morris design (:meth:`Screening.experiment`),
stored as a sweep in ``<out>/sweep/``, so a screening has what a sweep has: its folder
locked while it runs, an interrupted screening resumed where it stopped (its workers,
spawned, leave with it), runs of other model code or another screening file refused, and
the model run a chunk at a time on the compiled engine (or ``engine="mesa"``). The seeds
are spawned from the master seed (:mod:`kamabm.experiments.seeds`), one per replication
and shared by every design point (common random numbers make the elementary effects less
noisy), the same seeds and design points screenings had before they ran as sweeps.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from kamabm.experiments.design import Design, Experiment, Variable
from kamabm.experiments.seeds import spawned_seeds
from kamabm.experiments.validation import (
    Bounds,
    Invalid,
    Name,
    ParameterFile,
    check,
    parse_toml,
    read_text,
    unknown_parameter,
)
from kamabm.model.batch import DEFAULT_ENGINE, check_engine
from kamabm.model.params import RUN, Parameters

RunFunction = Callable[[Parameters, int], Mapping[str, Any]]

#: Fraction of a range kept away from an open end (``(0, 1]`` is sampled from 0.001).
OPEN_END_MARGIN = 1e-3
#: A factor is kept for variance-based analysis when its mu* reaches this share of the
#: largest mu* of at least one outcome (a common screening rule; the file may change it).
KEEP_SHARE = 0.1
SWEEP, RUNS_CSV, INDICES_CSV, INDICES_JSON, MANIFEST = (
    "sweep", "runs.csv", "morris.csv", "morris.json", "manifest.json")


class ScreeningError(ValueError):
    """A screening file or results folder that cannot be used; the message is one line."""


@dataclass(frozen=True)
class Factor:
    """One screened parameter and the range it is screened over."""

    name: str
    low: float
    high: float
    integer: bool
    group: str

    def scale(self, unit: np.ndarray) -> np.ndarray:
        """Values of this factor at unit-cube coordinates ``unit``."""
        if self.integer:
            # Each whole number gets an equal share of the unit interval.
            return np.floor(self.low + unit * (self.high - self.low + 1)).clip(
                self.low, self.high)
        return self.low + unit * (self.high - self.low)


@dataclass(frozen=True)
class Screening:
    """A validated screening, ready to run (build with :func:`load_screening`)."""

    name: str
    description: str
    text: str
    base: Parameters
    factors: tuple[Factor, ...]
    outcomes: tuple[str, ...]
    trajectories: int
    levels: int
    replications: int
    seed: int
    runs_per_part: int
    keep_share: float = KEEP_SHARE

    @property
    def digest(self) -> str:
        """SHA-256 of what determines the runs (not comments or layout)."""
        content = {"base": self.base.as_dict(),
                   "factors": [[f.name, f.low, f.high, f.integer] for f in self.factors],
                   "outcomes": self.outcomes, "trajectories": self.trajectories,
                   "levels": self.levels, "replications": self.replications,
                   "seed": self.seed, "runs_per_part": self.runs_per_part}
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def names(self) -> list[str]:
        """The factors' names, in design order."""
        return [f.name for f in self.factors]

    def experiment(self) -> Experiment:
        """The screening as an experiment the sweep runs: the Morris design over the factors.

        Its design points and seeds are the screening's (:meth:`design`, :meth:`seeds`).
        """
        variables = tuple(Variable(f.name, "uncertainty", f.low, f.high, None)
                          for f in self.factors)
        return Experiment(self.name, self.description, None, self.text, self.base, variables,
                          Design("morris", self.trajectories, levels=self.levels),
                          self.replications, self.seed, True, self.outcomes, ())

    def unit_design(self) -> np.ndarray:
        """The Morris design in the unit cube: ``trajectories * (k + 1)`` rows, ``k`` columns."""
        return self.experiment().unit_design()

    def design(self) -> pd.DataFrame:
        """The design points in parameter units, one column per factor."""
        unit = self.unit_design()
        return pd.DataFrame({f.name: f.scale(unit[:, i]) for i, f in enumerate(self.factors)})

    def seeds(self) -> list[int]:
        """One seed per replication, shared by every design point."""
        return spawned_seeds(self.seed, (_REPLICATION_STREAM,), self.replications)

    @property
    def n_runs(self) -> int:
        """Runs the screening takes: design points times replications."""
        return self.trajectories * (len(self.factors) + 1) * self.replications


# Spawn keys of the replications (those of a sweep with common random numbers); the
# design's sampler draws from (1,) (kamabm.experiments.design's Morris stream).
_REPLICATION_STREAM = 0


# --- the file ---------------------------------------------------------------------------
class ScreeningFile(ParameterFile):
    """A screening file (see the module docstring); validate with :func:`parse_screening`.

    The validation context gives ``outcomes``: the names the run function reports.
    """

    name: Name
    description: str = ""
    seed: int = Field(ge=0)
    trajectories: int = Field(ge=2)
    levels: int = Field(default=4, ge=2)
    replications: int = Field(default=1, ge=1)
    runs_per_part: int = Field(default=50, ge=1)
    keep_share: float = Field(default=KEEP_SHARE, gt=0, le=1)
    outcomes: list[str] = Field(min_length=1, description="at least one outcome name")
    optional_outcomes: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    ranges: dict[str, Bounds] = Field(default_factory=dict)
    _factors: tuple[Factor, ...] = PrivateAttr(default=())

    @field_validator("levels")
    @classmethod
    def _even(cls, levels: int) -> int:
        if levels % 2:
            raise ValueError(f"expected an even number of levels, got {levels}")
        return levels

    @field_validator("outcomes", "optional_outcomes", "exclude")
    @classmethod
    def _once(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names):
            raise ValueError(f"names repeat: {names}")
        return names

    @field_validator("outcomes")
    @classmethod
    def _reported(cls, names: list[str], info: ValidationInfo) -> list[str]:
        known: Sequence[str] = (info.context or {}).get("outcomes", ())
        for i, name in enumerate(names):
            if name not in known:
                raise Invalid((i,), f"unknown outcome {name!r}, expected one of: "
                                    f"{', '.join(known)}")
        return names

    @field_validator("exclude")
    @classmethod
    def _parameters(cls, names: list[str]) -> list[str]:
        for i, name in enumerate(names):
            if name not in Parameters.names():
                raise Invalid((i,), unknown_parameter(name, named=True))
        return names

    @model_validator(mode="after")
    def _factors_to_screen(self) -> Self:
        # Run control, list parameters (one value per key buyer: settings, not single
        # factors), the exclusions and what the file fixes are not screened.
        skipped = set(self.exclude) | {n for n in Parameters.names() if self.is_fixed(n)}
        for name in self.ranges:
            if name not in Parameters.names():
                raise Invalid(("ranges", name), unknown_parameter(name))
            if name in skipped or Parameters.spec(name).group == RUN:
                raise Invalid(("ranges", name), "not screened (run control, excluded or "
                                                "fixed in base)")
        self._factors = tuple(_factor(n, self.ranges.get(n)) for n in Parameters.names()
                              if n not in skipped and Parameters.spec(n).group != RUN
                              and not Parameters.is_sequence(n))
        if len(self._factors) < 2:
            raise Invalid(("exclude",), "fewer than two factors left to screen")
        return self

    def screening(self, text: str, known_outcomes: Sequence[str]) -> Screening:
        """The screening this file describes; optional outcomes the model lacks left out."""
        optional = [o for o in self.optional_outcomes if o in known_outcomes]
        return Screening(self.name, self.description, text, self.fixed, self._factors,
                         tuple(dict.fromkeys([*self.outcomes, *optional])), self.trajectories,
                         self.levels, self.replications, self.seed, self.runs_per_part,
                         self.keep_share)


def load_screening(path: str | Path, *, known_outcomes: Sequence[str] | None = None
                   ) -> Screening:
    """Read and validate a screening file (see the module docstring).

    Args:
        path: the TOML file.
        known_outcomes: outcomes the run function reports (default: the model's
            :data:`kamabm.model.run.OUTCOMES`); ``outcomes`` outside it are errors,
            ``optional_outcomes`` outside it are left out.

    Raises:
        ScreeningError: one line naming the file, the key and what was expected.

    """
    path = Path(path)
    text = read_text(path, ScreeningError, "screening file")
    return parse_screening(text, where=str(path), known_outcomes=known_outcomes)


def parse_screening(text: str, *, where: str = "<screening>",
                    known_outcomes: Sequence[str] | None = None) -> Screening:
    """Validate a screening given as TOML text; see :func:`load_screening`."""
    if known_outcomes is None:
        from kamabm.model.run import OUTCOMES

        known_outcomes = tuple(OUTCOMES)
    doc = parse_toml(text, where, ScreeningError)
    file = check(ScreeningFile, doc, where=where, error=ScreeningError,
                 context={"outcomes": tuple(known_outcomes)})
    return file.screening(text, tuple(known_outcomes))


def _factor(name: str, narrowed: list[float] | None) -> Factor:
    """Parameter ``name`` as a factor over its declared range, or the narrower one given."""
    spec = Parameters.spec(name)
    integer = Parameters.is_integer(name)
    if narrowed is None:
        low, high = spec.low, spec.high
        if not (math.isfinite(low) and math.isfinite(high)):
            raise Invalid(("ranges", name), f"declared range {spec.range_text()} is unbounded; "
                                            f"give ranges.{name} = [low, high]")
        width = high - low
        if spec.low_open:
            low = math.ceil(low + 1e-9) if integer else low + OPEN_END_MARGIN * width
        if spec.high_open:
            high = math.floor(high - 1e-9) if integer else high - OPEN_END_MARGIN * width
        return Factor(name, low, high, integer, spec.group)
    for bound in narrowed:
        if not spec.admits(bound) or (integer and not bound.is_integer()):
            kind = "whole numbers" if integer else "numbers"
            raise Invalid(("ranges", name), f"{bound:g} out of range, expected {kind} in "
                                            f"{spec.range_text()} ({spec.unit})")
    if not narrowed[0] < narrowed[1]:
        raise Invalid(("ranges", name), f"expected low < high, got {narrowed}")
    low, high = (int(b) for b in narrowed) if integer else narrowed
    return Factor(name, low, high, integer, spec.group)


# --- analysis -------------------------------------------------------------------------
def morris_indices(unit_design: np.ndarray, y: np.ndarray, names: Sequence[str], *,
                   levels: int, confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Morris indices of one outcome from its values at the unit-cube design points.

    Args:
        unit_design: the design in the unit cube, as from :meth:`Screening.unit_design`.
        y: the outcome at each design point (replications already averaged).
        names: the factors, in design order.
        levels: grid levels of the design.
        confidence: level of SALib's bootstrap interval of ``mu_star``.
        seed: seed of that bootstrap.

    Returns:
        One row per factor: ``parameter``, ``mu``, ``mu_star``, ``sigma``,
        ``mu_star_conf`` (half-width of the interval), largest ``mu_star`` first.

    """
    from SALib.analyze import morris

    y = np.asarray(y, dtype=float)
    if not np.all(np.isfinite(y)):
        raise ScreeningError(f"{int((~np.isfinite(y)).sum())} design points have no value; "
                             "Morris needs a number at every point")
    problem = {"num_vars": len(names), "names": list(names),
               "bounds": [[0.0, 1.0]] * len(names)}
    found = morris.analyze(problem, unit_design, y, num_levels=levels,
                           conf_level=confidence, num_resamples=1000, seed=seed)
    table = pd.DataFrame({"parameter": list(names), "mu": found["mu"],
                          "mu_star": found["mu_star"], "sigma": found["sigma"],
                          "mu_star_conf": found["mu_star_conf"]})
    return table.sort_values("mu_star", ascending=False, ignore_index=True)


def kept_factors(indices: pd.DataFrame, share: float = KEEP_SHARE) -> list[str]:
    """Factors whose mu* reaches ``share`` of the largest mu* of at least one outcome.

    These are the factors worth a variance-based (Sobol) analysis; the others move no
    outcome by more than a tenth (by default) of what the strongest factor does.
    """
    top = indices.groupby("outcome")["mu_star"].transform("max")
    kept = indices.loc[indices["mu_star"] >= share * top, "parameter"]
    order = indices.sort_values("mu_star", ascending=False)["parameter"]
    return [name for name in dict.fromkeys(order) if name in set(kept)]


def indices_table(screening: Screening, runs: pd.DataFrame) -> pd.DataFrame:
    """Tidy Morris indices of every outcome: one row per (outcome, factor).

    A trajectory with a point that has no value (a run raised, or the outcome is
    undefined there) is left out of that outcome's indices; ``trajectories`` says how
    many were used. Fewer than two usable trajectories is an error.
    """
    unit = screening.unit_design()
    groups = {f.name: f.group for f in screening.factors}
    per = len(screening.factors) + 1
    frames = []
    for outcome in screening.outcomes:
        # A point's value is the mean over its replications; any missing one voids it.
        y = runs.groupby("point", sort=True)[outcome].agg(
            lambda v: v.mean() if v.notna().all() else np.nan).to_numpy(dtype=float)
        whole = np.isfinite(y).reshape(screening.trajectories, per).all(axis=1)
        if whole.sum() < 2:
            raise ScreeningError(f"outcome {outcome}: only {int(whole.sum())} of "
                                 f"{screening.trajectories} trajectories have a value at "
                                 "every point (runs raised or gave no value)")
        rows = np.repeat(whole, per)
        table = morris_indices(unit[rows], y[rows], screening.names,
                               levels=screening.levels, seed=screening.seed % 2**32)
        table.insert(0, "outcome", outcome)
        table.insert(2, "group", table["parameter"].map(groups))
        table["rank"] = np.arange(1, len(table) + 1)
        table["trajectories"] = int(whole.sum())
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


# --- running ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScreeningSummary:
    """What a call of :func:`run_screening` did."""

    directory: Path
    runs_total: int
    runs_resumed: int
    runs_now: int
    wall_time: float
    failed: int
    indices: pd.DataFrame


def run_screening(screening: Screening, out: str | Path, *, workers: int | None = None,
                  run_fn: RunFunction | None = None, overwrite: bool = False,
                  progress: bool = False, notify: Callable[[str], None] | None = None,
                  results: str | Path | None = None, engine: str = DEFAULT_ENGINE
                  ) -> ScreeningSummary:
    """Run (or resume) a screening through the sweep's runner, then compute its indices.

    The runs are a sweep of :meth:`Screening.experiment` stored in ``<out>/sweep/``
    (:func:`kamabm.experiments.sweep.run_sweep`): each chunk of
    ``runs_per_part`` runs is stored as it finishes, so a screening stopped in any way
    resumes where it stopped; local workers are started with ``spawn`` and leave by
    themselves when the screening ends or is killed; the folder is held by one process at
    a time (:mod:`kamabm.experiments.lock`); and the sweep's identity (the screening's
    content and the model's code version) refuses to mix runs of two screenings or two
    model versions.

    Args:
        screening: the validated screening.
        out: the results folder (created if missing); its runs go to ``sweep/``.
        workers: processes (default: all cores); 1 runs in this process.
        run_fn: ``run_fn(params, seed) -> {outcome: value}``, a module-level function
            called run by run instead of the model (tests).
        overwrite: start afresh in a folder holding another screening's runs, or runs of
            other model code.
        progress: a progress bar on stderr.
        notify: called with one-line notices ("resuming: N of M runs already stored").
        results: folder for ``runs.csv``, the indices and the manifest (default ``out``),
            e.g. a staging folder the caller moves into place.
        engine: the model's engine, ``"compiled"`` (default) or ``"mesa"``; the same
            numbers either way, so a screening resumes across engines.

    Returns:
        The counts, wall time and the tidy indices table.

    Raises:
        ParameterError: ``engine`` is not an engine.
        ScreeningError: the folder holds another screening's runs, or runs of other model
            code (and not ``overwrite``); fewer than two trajectories of an outcome are
            complete.
        FolderLockedError: another process is writing the folder.
        kamabm.experiments.sweep.SweepError: the workers cannot be started.
        kamabm.experiments.sweep.SweepInterrupted: SIGTERM or SIGHUP (KeyboardInterrupt
            on Ctrl-C), after the workers are stopped; the runs stored are kept.

    A run that raises is recorded (``error`` column of ``runs.csv``: the last line of its
    traceback) and its trajectory is left out of the indices, as the sweep records failed
    runs and goes on.

    """
    from kamabm.experiments.lock import folder_lock
    from kamabm.experiments.store import ResultsStore
    from kamabm.experiments.sweep import run_sweep
    from kamabm.experiments.tables import load_results

    check_engine(engine)
    start = time.perf_counter()
    directory = Path(out)
    target = Path(results) if results is not None else directory
    experiment = screening.experiment()
    design = screening.design()
    directory.mkdir(parents=True, exist_ok=True)
    with folder_lock(directory, purpose="screening"):
        runs_dir = directory / SWEEP
        _check_runs(runs_dir, experiment, run_fn, overwrite)
        stored = ResultsStore(runs_dir)
        resumed = stored.n_stored() if stored.read_manifest() is not None else 0
        if resumed and notify is not None:
            notify(f"resuming: {resumed:,} of {screening.n_runs:,} runs already stored in "
                   f"{runs_dir}" + ("" if resumed < screening.n_runs
                                    else "; nothing left to run"))
        summary = run_sweep(experiment, runs_dir, run_fn=run_fn, workers=workers,
                            overwrite=overwrite, progress=progress,
                            chunk_size=screening.runs_per_part, notify=notify,
                            typical_runs=False, engine=engine)
        found = load_results(runs_dir, refinements=False)
    errors = found["error"].where(found["status"] != "ok")
    runs = pd.DataFrame({"point": found["point"], "replication": found["replication"],
                         "seed": found["seed"],
                         "error": errors.map(_last_line, na_action="ignore")})
    for name in screening.outcomes:
        runs[name] = found[name].astype(float)
    runs = runs.sort_values(["point", "replication"], ignore_index=True)
    table = design.copy()
    table.insert(0, "point", np.arange(len(design)))
    runs = runs.merge(table, on="point")
    target.mkdir(parents=True, exist_ok=True)
    _atomic_csv(runs, target / RUNS_CSV)
    failed = int(runs["error"].notna().sum())
    if failed and progress:
        print(f"{failed} runs raised; their trajectories are left out (errors in "
              f"{directory / RUNS_CSV})", file=sys.stderr)
    indices = indices_table(screening, runs)
    _atomic_csv(indices, target / INDICES_CSV)
    wall = time.perf_counter() - start
    payload = {"screening": screening.name, "method": "morris (SALib)",
               "trajectories": screening.trajectories, "levels": screening.levels,
               "replications": screening.replications, "factors": len(screening.factors),
               "runs": screening.n_runs, "failed_runs": failed,
               "outcomes": list(screening.outcomes), "keep_share": screening.keep_share,
               "kept": kept_factors(indices, screening.keep_share),
               "indices": {o: indices[indices["outcome"] == o].drop(columns="outcome")
                           .to_dict("records") for o in screening.outcomes}}
    _atomic_text(json.dumps(payload, indent=1), target / INDICES_JSON)
    _write_manifest(target, screening, resumed=summary.runs_resumed,
                    now_runs=summary.runs_now, wall=wall, workers=summary.backend,
                    failed=failed, engine=engine if run_fn is None else None)
    return ScreeningSummary(directory, screening.n_runs, summary.runs_resumed,
                            summary.runs_now, wall, failed, indices)


def _check_runs(runs_dir: Path, experiment: Experiment, run_fn: RunFunction | None,
                overwrite: bool) -> None:
    """Refuse a runs folder of another screening or other model code, in one line."""
    from kamabm.experiments.provenance import code_version
    from kamabm.experiments.store import ResultsStore, StoreError
    from kamabm.experiments.sweep import default_run_function, sweep_identity

    code = code_version(run_fn or default_run_function())
    identity = sweep_identity(experiment, run_fn, code=code)
    store = ResultsStore(runs_dir)
    old = (store.read_manifest() or {}).get("identity") or {}
    if old and old.get("experiment") != identity["experiment"] and not overwrite:
        raise ScreeningError(f"{runs_dir.parent}: holds runs of another screening (the file "
                             "changed); use --overwrite or another --out")
    try:
        store.check(identity, overwrite=overwrite, code=code)
    except StoreError as exc:
        raise ScreeningError(str(exc)) from None


def _last_line(text: str) -> str:
    """A run's error as one line: the last line of its traceback."""
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "error"


def _atomic_csv(frame: pd.DataFrame, target: Path) -> None:
    _atomic_bytes(frame.to_csv(index=False, float_format="%.10g").encode(), target)


def _atomic_text(text: str, target: Path) -> None:
    _atomic_bytes((text + "\n").encode(), target)


def _atomic_bytes(data: bytes, target: Path) -> None:
    """Write ``target`` whole or not at all: a temporary file, flushed, then renamed."""
    tmp = target.with_name(".tmp-" + target.name)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise


def _write_manifest(directory: Path, screening: Screening, *, resumed: int, now_runs: int,
                    wall: float, workers: str, failed: int, engine: str | None) -> None:
    from kamabm.experiments.provenance import environment, now

    manifest = {"kind": "morris_screening", "name": screening.name,
                "description": screening.description, "digest": screening.digest,
                "finished": now(), "command": " ".join(sys.argv),
                "runs_total": screening.n_runs, "runs_resumed": resumed,
                "runs_this_call": now_runs, "failed_runs": failed,
                "wall_time_s": round(wall, 2), "runs_folder": SWEEP, "engine": engine,
                "workers": workers, "factors": [f.__dict__ for f in screening.factors],
                "screening_file": screening.text, **environment()}
    _atomic_text(json.dumps(manifest, indent=1, default=str), directory / MANIFEST)
