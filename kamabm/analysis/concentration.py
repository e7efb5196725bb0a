"""Which concentration axis capture follows: total key share, share per account, or HHI.

A sweep that varies the key clients' total share of turnover and the number of key
clients it is split across (``experiments/concentration.toml``, equal shares) can be read
against three axes:

- the **total key share** ``s`` (the phase diagram's axis);
- the **share per key account** ``s / n``;
- the **Herfindahl index of the key accounts** ``n * (s / n) ** 2 = s ** 2 / n``.

If one curve of capture against an axis fits every buyer count, that axis is the one
capture follows: the buyer counts "collapse" onto it. :func:`concentration` gives capture
(with Wilson intervals, :func:`kamabm.analysis.mechanisms.summarise_outcome`) against
each axis, one curve per buyer count, and per axis how well one curve explains them all:

- ``r2``: the share of the variance of the design points' mean capture that one
  logistic curve in the axis's logarithm explains, fitted to every buyer count pooled
  (binomial likelihood over the KAMs; two parameters for every axis, so the axes
  compete on equal terms);
- ``gap``: the mean absolute difference between the curves of two buyer counts at the
  same value of the axis, over the range they share (linear interpolation in the log
  of the axis, each pair weighted by the width of that range);
- the buyer-count exponent ``k`` of the axis written ``s / n ** k`` (0 total share, 1 per
  account, 1/2 the Herfindahl index, whose logarithm is twice that of ``s / n ** 0.5``),
  and for the axis that fits best, ``k`` itself fitted with its bootstrap interval.

Pure functions of a run table; nothing here runs the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from kamabm.analysis.mechanisms import summarise_outcome
from kamabm.names import CAPTURE_RATE, CLIENT_SHARE, kams_per_run, pct

#: The number of key clients (the parameter split across).
KEY_BUYERS = "n_key_buyers"
#: Parameters that make the key clients' shares unequal (then ``s / n`` is only the mean).
UNEQUAL = ("key_share_concentration", "key_account_shares")
#: The axes, by code name: plain words and the buyer-count exponent ``k`` of ``s / n**k``.
TOTAL, ACCOUNT, HHI, FITTED = "total_share", "account_share", "herfindahl", "fitted"
AXES: dict[str, tuple[str, float]] = {
    TOTAL: ("key clients' total share of turnover", 0.0),
    ACCOUNT: ("share of turnover per key client", 1.0),
    HHI: ("Herfindahl index of the key clients", 0.5),
}
#: Plain words for the axis with the fitted exponent.
FITTED_WORDS = "total share / key clients ^ k, k fitted"
#: Points sampled in the range two buyer counts share, to compare their curves.
_GRID = 21
_KAMS = "kams"


def axis_values(runs: pd.DataFrame) -> pd.DataFrame:
    """The three axes of each run: total share, share per account, Herfindahl index."""
    share = runs[CLIENT_SHARE].astype(float)
    buyers = runs[KEY_BUYERS].astype(float)
    return pd.DataFrame({TOTAL: share, ACCOUNT: share / buyers,
                         HHI: buyers * (share / buyers) ** 2}, index=runs.index)


def equal_split(runs: pd.DataFrame) -> bool:
    """Whether every run splits the key share equally (no Zipf exponent, no list)."""
    zipf = UNEQUAL[0]
    if zipf in runs and (runs[zipf].astype(float) != 0).any():
        return False
    listed = UNEQUAL[1]
    return listed not in runs or not runs[listed].map(_non_empty).any()


def _non_empty(value: object) -> bool:
    if isinstance(value, str):
        return value.strip() not in ("", "()", "[]")
    try:
        return len(value) > 0  # type: ignore[arg-type]
    except TypeError:
        return value is not None and not (isinstance(value, float) and np.isnan(value))


@dataclass(frozen=True)
class Concentration:
    """Capture against each concentration axis, and how well one curve fits all buyers.

    Attributes:
        curves: one row per (axis, buyer count, total share): ``axis``, ``n_key_buyers``,
            ``client_revenue_share``, ``x`` (the axis's value), ``mean`` capture, its
            Wilson ``low`` and ``high``, ``n`` runs, and ``fitted``: the one curve of
            the axis fitted to every buyer count (:func:`one_curve`), at ``x``.
        fit: one row per axis (:data:`AXES`, then :data:`FITTED`): ``axis``, ``words``,
            ``exponent`` (``k``), ``exponent_low`` and ``exponent_high`` (the fitted
            axis's 95 % bootstrap interval, NaN for the others), ``r2``, ``gap``,
            ``pairs`` (buyer-count pairs whose ranges overlap), ``points``, ``buyers``.

    """

    curves: pd.DataFrame
    fit: pd.DataFrame

    @property
    def best(self) -> pd.Series:
        """The row of :attr:`fit` among the three named axes with the highest R².

        The total share's when no R² is known (capture alike at every design point).
        """
        named = self.fit[self.fit.axis.isin(list(AXES))].set_index("axis", drop=False)
        if named["r2"].isna().all():
            return named.loc[TOTAL]
        return named.loc[named["r2"].idxmax()]

    @property
    def varies(self) -> bool:
        """Whether capture differs between design points, so that a curve was fitted."""
        return bool(self.fit["r2"].notna().any())


def _points(runs: pd.DataFrame) -> pd.DataFrame:
    """Per design point: share, buyers, KAMs captured and KAMs, runs and mean capture."""
    kams = kams_per_run(runs).astype(float)
    frame = pd.DataFrame({CLIENT_SHARE: runs[CLIENT_SHARE].astype(float),
                          KEY_BUYERS: runs[KEY_BUYERS].astype(float),
                          "k": np.rint(runs[CAPTURE_RATE].astype(float) * kams),
                          "trials": kams, "rate": runs[CAPTURE_RATE].astype(float)})
    frame = frame.dropna(subset=["rate"])
    grouped = frame.groupby([CLIENT_SHARE, KEY_BUYERS], sort=True)
    out = grouped[["k", "trials"]].sum()
    out["runs"] = grouped.size()
    out["mean"] = grouped["rate"].mean()
    return out.reset_index()


def _logistic(design: np.ndarray, k: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """Maximum-likelihood coefficients of a binomial logistic regression (intercept first)."""
    x = np.column_stack([np.ones(len(k)), design])
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    xs = x / scale

    def nll(beta: np.ndarray) -> tuple[float, np.ndarray]:
        eta = xs @ beta
        value = -float(np.sum(k * log_expit(eta) + (trials - k) * log_expit(-eta)))
        grad = -xs.T @ (k - trials * expit(eta))
        return value, grad

    found = minimize(nll, np.zeros(xs.shape[1]), jac=True, method="BFGS")
    return np.asarray(found.x / scale)


def _r2(mean: np.ndarray, fitted: np.ndarray, weights: np.ndarray) -> float:
    centre = np.average(mean, weights=weights)
    total = float(np.sum(weights * (mean - centre) ** 2))
    if total == 0:
        return float("nan")
    return 1.0 - float(np.sum(weights * (mean - fitted) ** 2)) / total


def one_curve(points: pd.DataFrame, x: np.ndarray) -> tuple[float, np.ndarray]:
    """One logistic curve in ``log x`` for every design point: its R² and coefficients.

    Args:
        points: per design point, KAMs captured ``k`` of ``trials``, ``runs`` and the
            ``mean`` capture of its runs.
        x: the axis's value at each point.

    Returns:
        ``(r2, beta)``: the share of the variance of the points' mean capture (weighted
        by runs) the curve explains, and its intercept and slope on ``log x``.

    """
    beta = _logistic(np.log(x)[:, None], points["k"].to_numpy(float),
                     points["trials"].to_numpy(float))
    fitted = expit(beta[0] + beta[1] * np.log(x))
    return _r2(points["mean"].to_numpy(float), fitted, points["runs"].to_numpy(float)), beta


def fitted_exponent(points: pd.DataFrame) -> float:
    """The ``k`` of ``logit p = a + b log(s / n**k)``, fitted to the design points."""
    return _exponent(points[CLIENT_SHARE].to_numpy(float), points[KEY_BUYERS].to_numpy(float),
                     points["k"].to_numpy(float), points["trials"].to_numpy(float))


def _exponent(share: np.ndarray, buyers: np.ndarray, k: np.ndarray,
              trials: np.ndarray) -> float:
    beta = _logistic(np.column_stack([np.log(share), np.log(buyers)]), k, trials)
    return float(-beta[2] / beta[1]) if beta[1] != 0 else float("nan")


def matched_gap(curves: pd.DataFrame) -> tuple[float, int]:
    """Mean absolute gap between buyer counts' curves at equal x, and the pairs compared.

    Args:
        curves: one row per point of one axis: ``n_key_buyers``, ``x``, ``mean``.

    Returns:
        ``(gap, pairs)``: the gap over the x range each pair of curves shares (linear in
        ``log x``), pairs weighted by that range's width in ``log x``; NaN and 0 when no
        two curves share a range.

    """
    lines = {n: part.sort_values("x") for n, part in curves.groupby(KEY_BUYERS)}
    gaps, widths = [], []
    for a, b in combinations(sorted(lines), 2):
        xa, xb = np.log(lines[a]["x"].to_numpy(float)), np.log(lines[b]["x"].to_numpy(float))
        lo, hi = max(xa[0], xb[0]), min(xa[-1], xb[-1])
        if hi <= lo:
            continue
        grid = np.linspace(lo, hi, _GRID)
        ya = np.interp(grid, xa, lines[a]["mean"].to_numpy(float))
        yb = np.interp(grid, xb, lines[b]["mean"].to_numpy(float))
        gaps.append(float(np.mean(np.abs(ya - yb))))
        widths.append(hi - lo)
    if not gaps:
        return float("nan"), 0
    return float(np.average(gaps, weights=widths)), len(gaps)


def _exponent_band(runs: pd.DataFrame, n_boot: int, seed: int) -> tuple[float, float]:
    """95 % percentile interval of the fitted exponent, resampling runs within points."""
    rng = np.random.default_rng(seed)
    kams = kams_per_run(runs).astype(float)
    frame = runs[[CLIENT_SHARE, KEY_BUYERS]].astype(float).assign(
        k=np.rint(runs[CAPTURE_RATE].astype(float) * kams), trials=kams)
    frame = frame[runs[CAPTURE_RATE].notna()]
    groups = [(key, g["k"].to_numpy(), g["trials"].to_numpy())
              for key, g in frame.groupby([CLIENT_SHARE, KEY_BUYERS], sort=True)]
    share = np.array([key[0] for key, _, _ in groups])
    buyers = np.array([key[1] for key, _, _ in groups])
    draws = []
    for _ in range(n_boot):
        picks = [rng.integers(0, len(k), len(k)) for _, k, _ in groups]
        k = np.array([g[1][i].sum() for g, i in zip(groups, picks, strict=True)])
        trials = np.array([g[2][i].sum() for g, i in zip(groups, picks, strict=True)])
        draws.append(_exponent(share, buyers, k, trials))
    values = np.asarray(draws, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    low, high = np.quantile(values, [0.025, 0.975])
    return float(low), float(high)


def concentration(runs: pd.DataFrame, *, n_boot: int = 200, seed: int = 0
                  ) -> Concentration:
    """Capture against the three concentration axes and how well each collapses buyers.

    Args:
        runs: one row per run with ``client_revenue_share``, ``n_key_buyers``,
            ``n_suppliers`` and ``capture_rate``; the key shares split equally.
        n_boot: bootstrap resamples of the fitted exponent's interval (0: none).
        seed: seed of that bootstrap.

    Raises:
        ValueError: the runs hold fewer than two buyer counts or two total shares.

    """
    for column in (CLIENT_SHARE, KEY_BUYERS, CAPTURE_RATE, "n_suppliers"):
        if column not in runs:
            raise ValueError(f"results have no column {column!r}")
    if runs[KEY_BUYERS].nunique() < 2 or runs[CLIENT_SHARE].nunique() < 2:
        raise ValueError("the runs need two buyer counts and two key shares or more")
    summary = summarise_outcome(runs, CAPTURE_RATE, [KEY_BUYERS, CLIENT_SHARE])
    points = _points(runs)
    # capture alike at every point (none captured, say): no curve to fit, no axis better
    varies = bool(np.ptp(points["mean"].to_numpy(float)) > 0)
    nan = float("nan")
    frames, rows = [], []
    for axis, (words, exponent) in AXES.items():
        x = axis_values(summary)[axis].to_numpy(float)
        if varies:
            r2, beta = one_curve(points, axis_values(points)[axis].to_numpy(float))
            fitted = expit(beta[0] + beta[1] * np.log(x))
        else:
            r2, fitted = nan, np.full(len(x), points["k"].sum() / points["trials"].sum())
        curve = summary.assign(axis=axis, x=x, fitted=fitted)
        frames.append(curve)
        gap, pairs = matched_gap(curve)
        rows.append({"axis": axis, "words": words, "exponent": exponent,
                     "exponent_low": nan, "exponent_high": nan, "r2": r2, "gap": gap,
                     "pairs": pairs})
    k = fitted_exponent(points) if varies else nan
    low, high = _exponent_band(runs, n_boot, seed) if n_boot and varies else (nan, nan)
    r2 = nan
    gap, pairs = nan, 0
    if np.isfinite(k):
        r2 = one_curve(points, (points[CLIENT_SHARE] / points[KEY_BUYERS] ** k).to_numpy(
            float))[0]
        gap, pairs = matched_gap(summary.assign(
            x=summary[CLIENT_SHARE] / summary[KEY_BUYERS] ** k))
    rows.append({"axis": FITTED, "words": FITTED_WORDS, "exponent": k, "exponent_low": low,
                 "exponent_high": high, "r2": r2, "gap": gap, "pairs": pairs})
    fit = pd.DataFrame(rows).assign(points=len(points), buyers=runs[KEY_BUYERS].nunique())
    curves = pd.concat(frames, ignore_index=True)
    curves = curves[["axis", KEY_BUYERS, CLIENT_SHARE, "x", "mean", "low", "high", "n",
                     "fitted"]]
    return Concentration(curves, fit)


def concentration_sentences(found: Concentration) -> list[str]:
    """The finding in plain words: which axis one curve fits, and how well the others do."""
    fit = found.fit.set_index("axis")
    best = found.best
    buyers = sorted(found.curves[KEY_BUYERS].unique())
    if not found.varies:
        mean = found.curves["mean"].mean()
        return [f"Capture is about {pct(mean, 0)} at every key share and number of key "
                f"clients tested, so no measure of concentration explains it better than "
                f"another."]
    others = [a for a in AXES if a != best.axis]
    text = (f"Capture follows the {best.words} most closely: one curve in it explains "
            f"{pct(best.r2, 0)} of the differences in capture between design points for "
            f"{buyers[0]:g} to {buyers[-1]:g} key clients alike, against "
            + " and ".join(f"{pct(fit.loc[a, 'r2'], 0)} for the {fit.loc[a, 'words']}"
                           for a in others)
            + f"; at equal {best.words}, numbers of key clients differ by "
            f"{100 * best.gap:.1f} points of capture on average.")
    out = [text]
    if FITTED in fit.index and np.isfinite(fit.loc[FITTED, "exponent"]):
        row = fit.loc[FITTED]
        band = (f" (95 % interval {row.exponent_low:.2f} to {row.exponent_high:.2f})"
                if np.isfinite(row.exponent_low) else "")
        out.append(f"The axis that fits best divides the total share by the number of key "
                   f"clients to the power {row.exponent:.2f}{band}: 0 would be the total "
                   f"share, 0.5 the Herfindahl index, 1 the share per key client.")
    return out


def concentration_details(found: Concentration) -> list[str]:
    """Each axis's fit and gap, with code names, for the analyst."""
    out = []
    for row in found.fit.itertuples():
        band = (f" [{row.exponent_low:.2f}, {row.exponent_high:.2f}]"
                if np.isfinite(row.exponent_low) else "")
        out.append(f"Capture against {row.axis} ({CLIENT_SHARE} / {KEY_BUYERS}^"
                   f"{row.exponent:.2f}{band}): logistic R² {row.r2:.3f} over {row.points} "
                   f"design points; mean gap between buyer counts at equal x "
                   f"{100 * row.gap:.1f} points over {row.pairs} pairs.")
    return out
