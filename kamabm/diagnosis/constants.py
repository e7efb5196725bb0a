"""The model's constants a diagnosis runs at, and what its accounts' capture hinges on.

By default a diagnosis runs over constant sets drawn, by weight, from the calibration's
posterior (``results/calibration/posterior.csv``; :class:`kamabm.experiments.ensemble.Ensemble`
draws them): every column of that CSV that is a model parameter, and not one the client
file sets, is a constant drawn, whatever the calibration fitted. With ``[run] constants =
"defaults"`` it runs at the model's defaults only.

:func:`calibration_facts` reads what the calibration fitted, to which published numbers,
and how close it came (``targets.csv`` and ``manifest.json`` beside the posterior), for the
report's assumptions box. :func:`what_would_be_true` finds, per account, the constant its
capture hinges on most across the drawn sets and the cut on it at which capture passes
one half (:func:`kamabm.stats.what_would_have_to_be_true`).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kamabm.diagnosis.client import Client, ClientFileError
from kamabm.experiments.design import ExperimentError, Number
from kamabm.model.params import Parameters

#: Capture share whose crossing a what-would-have-to-be-true line names.
CAPTURE_LINE = 0.5
#: Fewest constant sets for a spread over them to be read (a band, a rank correlation);
#: with fewer, the bands are confidence intervals over the runs.
MIN_SETS_FOR_SPREAD = 5


@dataclass(frozen=True)
class ConstantSets:
    """The constant sets a diagnosis runs at.

    Attributes:
        mode: ``"posterior"`` or ``"defaults"``.
        sets: one ``{parameter: value}`` per set, in draw order (``({},)`` at the defaults).
        particles: the posterior's row of each set (0-based; ``None`` at the defaults).
        columns: the constants drawn (none at the defaults).
        source: the posterior's path ("" at the defaults).
        digest: SHA-256 of the posterior's text ("" at the defaults).
        particles_in_posterior: rows of the posterior (0 at the defaults).

    """

    mode: str
    sets: tuple[dict[str, Number], ...]
    particles: tuple[int | None, ...]
    columns: tuple[str, ...]
    source: str = ""
    digest: str = ""
    particles_in_posterior: int = 0

    @property
    def spread(self) -> bool:
        """Whether there are enough sets to read a spread over them."""
        return len(self.sets) >= MIN_SETS_FOR_SPREAD


def posterior_text(client: Client) -> tuple[Path, str]:
    """The client's posterior file and its text.

    Raises:
        ClientFileError: no such file, or it cannot be read; one line naming
            ``run.posterior`` and what to do.

    """
    from kamabm.experiments.ensemble import find_posterior

    try:
        path = find_posterior(client.posterior, Path(client.source) if client.source
                              else None)
        return path, path.read_text(encoding="utf-8")
    except (ExperimentError, OSError) as exc:
        said = str(exc).removeprefix("ensemble.posterior: ").replace("experiment file",
                                                                      "client file")
        raise ClientFileError(f"run.posterior: {said}"
                              "; run kamabm calibrate experiments/calibration.toml first, "
                              "or set run.constants = \"defaults\"") from None


def drawn_columns(text: str) -> tuple[str, ...]:
    """The posterior's columns that are constants to draw, in the file's order.

    Those that are parameters a client file does not set, and numbers (not lists).
    """
    import pandas as pd

    header = pd.read_csv(io.StringIO(text), nrows=0).columns
    names = set(Parameters.names())
    return tuple(c for c in header if c in names and c not in Client.set_here()
                 and not Parameters.is_sequence(c))


def constant_sets(client: Client, base: Parameters) -> ConstantSets:
    """The constant sets of ``client``'s diagnosis, drawn from the master seed.

    Raises:
        ClientFileError: the posterior is missing, malformed or has no parameter column.

    """
    if client.constants == "defaults":
        return ConstantSets("defaults", ({},), (None,), ())
    from kamabm.experiments.ensemble import Ensemble

    path, text = posterior_text(client)
    columns = drawn_columns(text)
    if not columns:
        raise ClientFileError(f"run.posterior: {path}: no column is a model constant; "
                              "set run.constants = \"defaults\"")
    try:
        ensemble = Ensemble(client.posterior, text, client.draws, "weighted", columns,
                            defaults=False, source=path)
    except ExperimentError as exc:
        raise ClientFileError(str(exc).replace("ensemble.", "run.", 1)) from None
    draws = ensemble.table(base, client.seed)
    return ConstantSets("posterior", tuple(d.constants for d in draws),
                        tuple(d.particle for d in draws), tuple(columns), str(path),
                        ensemble.digest, ensemble.n_particles)


# --- what the calibration fitted ----------------------------------------------------------------
@dataclass(frozen=True)
class CalibrationFacts:
    """What the calibration behind a posterior fitted, and to what.

    Attributes:
        fitted: ``(constant, low, high)`` of each constant fitted (its prior's range).
        targets: one dict per target: ``target``, ``source``, ``value`` (published),
            ``model`` (the posterior's mean, NaN if not recorded), ``matched`` (within the
            target's tolerance; None if not recorded), ``fitted`` (False: held out,
            measured but not in the fit), ``bound`` ("at_most", "at_least" or "").
        left_out: targets the calibration left out.
        stopped: why the calibration stopped ("" if not recorded).
        pinned: the fitted constants the data pin (``constants.csv``'s ``pinned``), and
            ``loose`` those they do not; both empty when not recorded.

    """

    fitted: tuple[tuple[str, float, float], ...]
    targets: tuple[dict[str, Any], ...]
    left_out: tuple[str, ...]
    stopped: str
    pinned: tuple[str, ...] = ()
    loose: tuple[str, ...] = ()


def calibration_facts(posterior: str | Path) -> CalibrationFacts:
    """Read ``targets.csv`` and ``manifest.json`` beside ``posterior`` (what is there)."""
    import pandas as pd

    folder = Path(posterior).parent
    manifest: dict[str, Any] = {}
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    fitted = tuple((str(p["name"]), float(p["low"]), float(p["high"]))
                   for p in manifest.get("priors", []) if "name" in p)
    targets: list[dict[str, Any]] = []
    try:
        table = pd.read_csv(folder / "targets.csv")
    except (OSError, ValueError):
        table = pd.DataFrame()
    for row in table.to_dict("records"):
        bound = row.get("bound")
        targets.append({"target": str(row.get("target", "")),
                        "source": str(row.get("source", "")),
                        "value": float(row.get("value", float("nan"))),
                        "model": float(row.get("posterior_mean", float("nan"))),
                        "matched": _flag(row.get("matched")),
                        "fitted": _flag(row.get("fitted")) is not False,
                        "bound": str(bound) if isinstance(bound, str) else ""})
    try:
        constants = pd.read_csv(folder / "constants.csv")
        pinned = tuple(str(r["constant"]) for r in constants.to_dict("records")
                       if _flag(r.get("pinned")))
        loose = tuple(str(r["constant"]) for r in constants.to_dict("records")
                      if _flag(r.get("pinned")) is False)
    except (OSError, ValueError, KeyError):
        pinned = loose = ()
    return CalibrationFacts(fitted, tuple(targets),
                            tuple(manifest.get("targets_left_out", [])),
                            str(manifest.get("stopped_because", "")), pinned, loose)


def _flag(value: Any) -> bool | None:
    """A CSV's true/false cell as a bool; None when empty or missing."""
    if value is None or value != value:
        return None
    return str(value).strip().lower() in ("true", "1", "yes")


# --- what would have to be true ----------------------------------------------------------------
@dataclass(frozen=True)
class Condition:
    """What an account's capture hinges on across the constant sets drawn.

    Found by :func:`kamabm.stats.what_would_have_to_be_true` over the sets (the constant
    most rank-correlated with the account's capture, and the cut on it that best
    separates the sets with capture above :data:`CAPTURE_LINE` from the others).

    Attributes:
        constant: that constant, or "" when capture is above the line in every set or in
            none (no constant decides it then).
        correlation: its Spearman rank correlation with the account's capture.
        threshold: the cut.
        rises: capture is above the line where the constant is above the cut (True) or
            below it (False).
        accuracy: share of the sets the rule classifies right.
        low, high: the constant's drawn range.
        share_above: share of the sets with capture above the line.

    """

    constant: str
    correlation: float
    threshold: float
    rises: bool
    accuracy: float
    low: float
    high: float
    share_above: float


def what_would_be_true(constants: dict[str, np.ndarray], captured: np.ndarray) -> Condition:
    """The constant an account's capture hinges on, and the cut on it at one half.

    Args:
        constants: each drawn constant's value per set (arrays of the sets' length).
        captured: the account's KAM captured at the horizon, per (set, run), bool.

    """
    import pandas as pd

    from kamabm.stats import what_would_have_to_be_true

    per_set = captured.mean(axis=1)
    share_above = float((per_set > CAPTURE_LINE).mean())
    found = what_would_have_to_be_true(pd.DataFrame(constants), pd.Series(per_set),
                                       CAPTURE_LINE)
    if found is None:
        nan = float("nan")
        return Condition("", nan, nan, True, nan, nan, nan, share_above)
    values = np.asarray(constants[found.constant], dtype=float)
    return Condition(found.constant, found.rho, found.cut, found.side == ">",
                     found.accuracy, float(values.min()), float(values.max()), share_above)
