"""Structural uncertainty: an experiment run over constant sets drawn from a posterior.

An experiment's ``[ensemble]`` section (:mod:`kamabm.experiments.files`) runs its design
over constant sets drawn from a calibration's accepted particles (:class:`Ensemble`)::

    [ensemble]
    posterior = "results/calibration/posterior.csv"   # relative to the file or repo root
    draws = 50                           # constant sets drawn from it
    sample = "weighted"                  # weighted (default) | top
    columns = ["theta", "opening_cut", "w_keep"]   # optional, default: every column
                                         # that is a parameter
    defaults = true                      # also run the base constants, as draw 0

Each (design point, draw, replication) is one run; the draw's constants go into the
run's parameters, and with common random numbers replication ``r`` gets the same seed
at every point and in every draw.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kamabm.experiments.design import ExperimentError, Number, checked_value
from kamabm.experiments.seeds import spawned_generator
from kamabm.model.params import Parameters

Sample = Literal["weighted", "top"]
#: Most constant sets an ensemble may draw.
MAX_DRAWS = 1000
#: The posterior's column of particle weights.
WEIGHT = "weight"
_ENSEMBLE_STREAM = 3  # SeedSequence spawn key (3,): the draws (beside design.py's streams)


@dataclass(frozen=True)
class Draw:
    """One constant set of an ensemble.

    Attributes:
        draw: its number: 0 for the base constants (``defaults = true``), then 1, 2, ...
        particle: the posterior's row it came from (0-based, ``None`` for draw 0).
        constants: ``{parameter: value}`` for the ensemble's columns.

    """

    draw: int
    particle: int | None
    constants: dict[str, Number]


@dataclass(frozen=True)
class Ensemble:
    """Constant sets drawn from a calibration's accepted particles; checks itself when built.

    The posterior is a CSV with one row per accepted particle, a column per fitted
    constant and a ``weight`` column (``results/calibration/posterior.csv``). Its text is
    kept, so the draws, and the experiment's digest, depend on the content read, not on
    the file's name.

    Attributes:
        posterior: the path as written in the experiment file.
        text: the posterior's CSV text.
        draws: how many constant sets to draw (the file allows 1 to :data:`MAX_DRAWS`).
        sample: ``"weighted"``: drawn with replacement, each particle with probability
            proportional to its weight (importance resampling, from the experiment's
            seed, so a heavy particle may be drawn several times, and with common random
            numbers its repeats repeat the same runs: that is its weight); ``"top"``: the
            ``draws`` particles of largest weight (ties in file order), no repeats.
        columns: the constants drawn; ``None`` means every column that is a parameter.
        defaults: whether the base constants also run, as draw 0.
        source: where the text was read (``None``: given as text, e.g. from a manifest).

    Raises:
        ExperimentError: a posterior that is not a CSV with a ``weight`` column of
            non-negative numbers summing to more than zero, more ``"top"`` draws than
            particles, a column that is not in the posterior or is a list parameter, or
            a particle value outside its parameter's range; the message names the
            ``ensemble`` key. (The file's reader checks the section's own values.)

    """

    posterior: str
    text: str
    draws: int
    sample: Sample = "weighted"
    columns: tuple[str, ...] | None = None
    defaults: bool = True
    source: Path | None = field(default=None, compare=False)
    _particles: tuple[dict[str, Number], ...] = field(default=(), init=False, repr=False,
                                                     compare=False)
    _weights: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        import pandas as pd

        where = self.source or self.posterior
        draws = self.draws
        try:
            table = pd.read_csv(io.StringIO(self.text))
        except (ValueError, pd.errors.ParserError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "empty"
            raise ExperimentError(f"ensemble.posterior: {where}: not a CSV table "
                                  f"({first})") from None
        if table.empty:
            raise ExperimentError(f"ensemble.posterior: {where}: holds no particles")
        if WEIGHT not in table:
            raise ExperimentError(f"ensemble.posterior: {where}: no '{WEIGHT}' column")
        weights = pd.to_numeric(table[WEIGHT], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0):
            raise ExperimentError(f"ensemble.posterior: {where}: the '{WEIGHT}' column must "
                                  "hold numbers >= 0 summing to more than 0")
        if self.sample == "top" and draws > len(table):
            raise ExperimentError(f"ensemble.draws: expected a whole number in [1, "
                                  f"{len(table)}] (the posterior's particles) with sample "
                                  f"= \"top\", got {draws}")
        names = set(Parameters.names())
        if self.columns is None:
            columns = tuple(c for c in table.columns if c in names)
            if not columns:
                raise ExperimentError(f"ensemble.posterior: {where}: no column is a "
                                      "parameter; name them in ensemble.columns")
        else:
            columns = tuple(self.columns)
            for i, name in enumerate(columns):
                if name not in table:
                    raise ExperimentError(f"ensemble.columns[{i}]: the posterior {where} has "
                                          f"no column {name!r}")
        for name in columns:
            if Parameters.is_sequence(name):
                raise ExperimentError(f"ensemble.columns: {name} is a list parameter; an "
                                      "ensemble draws numbers only")
        particles = []
        for row, values in enumerate(table[list(columns)].itertuples(index=False)):
            particles.append({name: checked_value(name, value, f"ensemble.posterior: "
                                                               f"{where}: row {row + 1}")
                              for name, value in zip(columns, values, strict=True)})
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "_particles", tuple(particles))
        object.__setattr__(self, "_weights", tuple(float(w) for w in weights / weights.sum()))

    @property
    def digest(self) -> str:
        """SHA-256 of the posterior's text."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def n_particles(self) -> int:
        """Number of particles in the posterior."""
        return len(self._particles)

    @property
    def particles(self) -> tuple[dict[str, Number], ...]:
        """Every particle's constants, in file order."""
        return self._particles

    @property
    def n_draws(self) -> int:
        """Constant sets run: the draws, plus one for the base constants (``defaults``)."""
        return self.draws + int(self.defaults)

    def chosen(self, seed: int) -> list[int]:
        """The posterior rows drawn (0-based), in draw order; reproducible from ``seed``.

        ``"weighted"`` inverts the weights' cumulative distribution at ``draws`` uniform
        numbers from :class:`numpy.random.SeedSequence` ``(seed, spawn_key=(3,))``;
        ``"top"`` takes the largest weights.
        """
        weights = np.asarray(self._weights, dtype=float)
        if self.sample == "top":
            return [int(i) for i in np.argsort(-weights, kind="stable")[:self.draws]]
        rng = spawned_generator(seed, (_ENSEMBLE_STREAM,))
        cumulative = np.cumsum(weights)
        picks = np.searchsorted(cumulative / cumulative[-1], rng.random(self.draws),
                                side="right")
        return [int(i) for i in np.minimum(picks, len(weights) - 1)]

    def table(self, base: Parameters, seed: int) -> tuple[Draw, ...]:
        """Every constant set run, in order.

        Draw 0 holds ``base``'s constants (with ``defaults``); draws 1 to ``draws`` the
        drawn particles.
        """
        columns = self.columns or ()
        out = []
        if self.defaults:
            out.append(Draw(0, None, {name: getattr(base, name) for name in columns}))
        for i, row in enumerate(self.chosen(seed), start=1):
            out.append(Draw(i, row, dict(self.particles[row])))
        return tuple(out)

    def describe(self, base: Parameters, seed: int) -> dict[str, Any]:
        """The ensemble as the results manifest records it (the posterior's text included)."""
        draws = self.table(base, seed)
        return {"posterior": self.posterior,
                "source": str(self.source) if self.source is not None else None,
                "sha256": self.digest, "particles": self.n_particles, "draws": self.draws,
                "sample": self.sample, "columns": list(self.columns or ()),
                "defaults": self.defaults,
                "distinct_particles": len({d.particle for d in draws
                                           if d.particle is not None}),
                "table": [{"draw": d.draw, "particle": d.particle, **d.constants}
                          for d in draws],
                "text": self.text}


def find_posterior(posterior: str | Path, path: Path | None) -> Path:
    """The ensemble posterior named ``posterior`` in the experiment file ``path``.

    A relative path is looked for beside the experiment file, then in each folder above
    it (so ``results/calibration/posterior.csv`` is found from ``experiments/``, relative
    to the repository root), then in the working directory.

    Raises:
        ExperimentError: no such file; the message names the key and where it looked.

    """
    given = Path(posterior)
    if given.is_absolute():
        candidates = [given]
    else:
        folders: list[Path] = []
        if path is not None:
            here = path.resolve().parent
            folders += [here, *here.parents]
        folders.append(Path.cwd())
        candidates = [folder / given for folder in dict.fromkeys(folders)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = "beside the experiment file, the folders above it and the working directory"
    raise ExperimentError(f"ensemble.posterior: {posterior}: no such file (looked "
                          f"{looked if not given.is_absolute() else 'there'})")


