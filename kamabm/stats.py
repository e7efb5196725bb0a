"""Analysis of sweep results: the capture boundary and its bootstrap confidence band.

Pure functions of result tables (pandas DataFrames as returned by
:func:`kamabm.experiments.tables.load_results`); they never run the model. Besides the boundary, the
module gives the summaries the charts and the report draw on: means with t intervals,
paired differences of interventions on common random numbers, margin erosion by source,
the margin gap between captured and other runs at equal client share, and the two
branches of a hysteresis experiment.

The *capture boundary* at a pressure level is the client revenue share at which the
probability of capture crosses one half. Capture probability rises with share, so it is
estimated by isotonic (monotone) regression of the runs' capture outcome on share, which
assumes no functional form; the crossing is found by linear interpolation between the
fitted points. Its uncertainty comes from a bootstrap over replications: the runs at
every design point are resampled with replacement, the boundary re-estimated, and the
band is the percentile interval of those estimates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

from kamabm.names import CAPTURE_RATE, CLIENT_SHARE, PRESSURE, PRESSURE_AFTER

#: Status of a boundary estimate at one pressure level.
INSIDE, ABOVE, BELOW = "inside", "above range", "below range"


def critical_value(x: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> float:
    """Where a monotone increasing fit of ``y`` on ``x`` first reaches ``threshold``.

    Args:
        x: the swept values (e.g. client revenue share), one per observation.
        y: the responses (e.g. capture rate of a run, in [0, 1]), one per observation.
        threshold: the level whose crossing is sought.

    Returns:
        The crossing, linearly interpolated between the fitted points around it;
        ``+inf`` when the fit stays below ``threshold`` over the whole range, ``-inf``
        when it is already at or above it at the smallest ``x``.

    """
    levels, inverse = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    sums = np.bincount(inverse, weights=np.asarray(y, dtype=float))
    counts = np.bincount(inverse)
    return _crossing(levels, sums / counts, counts, threshold)


def _crossing(levels: np.ndarray, means: np.ndarray, counts: np.ndarray,
              threshold: float) -> float:
    fit = isotonic_regression(means, weights=counts, increasing=True).x
    above = np.flatnonzero(fit >= threshold)
    if len(above) == 0:
        return float("inf")
    k = above[0]
    if k == 0:
        return float("-inf")
    x0, x1, y0, y1 = levels[k - 1], levels[k], fit[k - 1], fit[k]
    return float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0))


@dataclass(frozen=True)
class BoundaryEstimate:
    """The boundary at one level of the second factor, with its confidence band."""

    level: float
    critical: float
    low: float
    high: float
    status: str


def capture_boundary(results: pd.DataFrame, *, along: str = CLIENT_SHARE,
                     across: str = PRESSURE, outcome: str = CAPTURE_RATE,
                     threshold: float = 0.5, n_boot: int = 500, confidence: float = 0.95,
                     seed: int = 0) -> pd.DataFrame:
    """Estimate the capture boundary and its bootstrap band at every level of ``across``.

    Args:
        results: one row per run, with columns ``along``, ``across`` and ``outcome``.
        along: the factor along which capture probability rises (the boundary's value).
        across: the factor whose levels each get a boundary.
        outcome: the per-run response (share of KAMs captured, or 0/1).
        threshold: the probability level defining the boundary.
        n_boot: bootstrap resamples.
        confidence: width of the percentile band.
        seed: seed of the bootstrap's generator.

    Returns:
        A DataFrame with one row per level of ``across``: ``level``, ``critical`` (the
        estimate, ``inf``/``-inf`` when outside the swept range), ``low`` and ``high``
        (the band; an end outside the range is ``+-inf``), ``status`` and ``n_runs``.

    """
    for column in (along, across, outcome):
        if column not in results:
            raise KeyError(f"results have no column {column!r}")
    rng = np.random.default_rng(seed)
    alpha = (1.0 - confidence) / 2.0
    rows = []
    for level, group in results.groupby(across, sort=True):
        group = group.dropna(subset=[outcome])
        x = group[along].to_numpy(dtype=float)
        y = group[outcome].to_numpy(dtype=float)
        estimate = critical_value(x, y, threshold)
        levels = np.unique(x)
        counts = np.array([np.count_nonzero(x == v) for v in levels])
        # Resample the runs within each design point: (n_boot, points) of cell means.
        boot_means = np.column_stack([
            y[x == v][rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
            for v, n in zip(levels, counts, strict=True)])
        boot = np.array([_crossing(levels, m, counts, threshold) for m in boot_means])
        low, high = np.quantile(boot, [alpha, 1.0 - alpha], method="inverted_cdf")
        status = INSIDE if np.isfinite(estimate) else ABOVE if estimate > 0 else BELOW
        rows.append({"level": float(level), "critical": estimate, "low": float(low),
                     "high": float(high), "status": status, "n_runs": len(group)})
    return pd.DataFrame(rows)


def cell_means(results: pd.DataFrame, outcome: str, *, along: str = CLIENT_SHARE,
               across: str = PRESSURE) -> pd.DataFrame:
    """Mean of ``outcome`` at every (``across``, ``along``) design point, as a grid."""
    return results.pivot_table(index=across, columns=along, values=outcome, aggfunc="mean")


# --- summaries with confidence intervals ------------------------------------------------
#: Margin-erosion outcomes, in the order they are stacked in charts, with their meaning.
EROSION: dict[str, str] = {
    "erosion_price": "price concessions",
    "erosion_demands": "extra demands granted",
    "erosion_resources": "resources diverted from SMB clients",
}


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of the proportion ``successes / n`` (SciPy's).

    Unlike a normal-approximation interval it stays inside [0, 1] and keeps close to its
    coverage with few trials or a proportion near 0 or 1; it is
    ``scipy.stats.binomtest(successes, n).proportion_ci(method="wilson")``.

    Args:
        successes: the trials that succeeded (e.g. runs in which a KAM is captured).
        n: the trials.
        confidence: coverage of the interval.

    Returns:
        ``(low, high)``; ``(nan, nan)`` when ``n`` is 0 (no trial says nothing).

    Raises:
        ValueError: ``successes`` is not between 0 and ``n``.

    """
    from scipy.stats import binomtest

    if n == 0 and successes == 0:
        return float("nan"), float("nan")
    if not 0 <= successes <= n:
        raise ValueError(f"{successes} successes out of {n} trials")
    ci = binomtest(int(successes), int(n)).proportion_ci(confidence_level=confidence,
                                                         method="wilson")
    return float(ci.low), float(ci.high)


def weighted_quantiles(values: Sequence[float] | np.ndarray,
                       weights: Sequence[float] | np.ndarray,
                       quantiles: Sequence[float] | np.ndarray) -> np.ndarray:
    """Quantiles of weighted values: the inverse of their weighted empirical distribution.

    Each quantile ``q`` is the smallest value at which the weights' cumulative share
    reaches ``q`` (NumPy's ``inverted_cdf`` with ``weights``, so always one of the
    values). Non-finite values are dropped with their weights.

    Args:
        values: the observations (e.g. a summary statistic of ABC particles).
        weights: their non-negative weights, any scale.
        quantiles: the levels sought, in [0, 1].

    Returns:
        One quantile per level; all NaN when no finite value has a positive weight.

    """
    x = np.asarray(values, dtype=float).ravel()
    w = np.asarray(weights, dtype=float).ravel()
    q = np.asarray(quantiles, dtype=float)
    if x.shape != w.shape:
        raise ValueError(f"{x.size} values but {w.size} weights")
    keep = np.isfinite(x)
    x, w = x[keep], w[keep]
    if not (w > 0).any():
        return np.full(q.shape, np.nan)
    return np.quantile(x, q, weights=w, method="inverted_cdf")


def mean_ci(values: np.ndarray | pd.Series, confidence: float = 0.95) -> tuple[float, float,
                                                                                   float]:
    """Mean of ``values`` with a Student-t confidence interval.

    Args:
        values: independent observations (e.g. one outcome over replications); NaNs dropped.
        confidence: coverage of the interval.

    Returns:
        ``(mean, low, high)``; with fewer than two observations the interval is the mean
        itself, and with none all three are NaN.

    """
    from scipy.stats import t

    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2:
        return mean, mean, mean
    half = float(t.ppf(0.5 + confidence / 2.0, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def proportion_ci(rates: np.ndarray | pd.Series, trials: float | np.ndarray | pd.Series,
                  confidence: float = 0.95) -> tuple[float, float, float]:
    """Pooled proportion of runs' trials (e.g. KAMs captured) with a Wilson interval.

    Unlike :func:`mean_ci` over the runs' capture rates, the interval stays in [0, 1] and
    is not empty when every run has the same rate (all 0, say). The runs' trials are
    pooled into one binomial count; since the KAMs of a run are captured together more
    often than independent trials would be, the count is divided by its design effect
    (Kish): the between-run variance of the pooled proportion (the ratio estimator's,
    runs as clusters) over the binomial variance, at least 1. The Wilson interval
    (:func:`wilson`) of that effective count, rounded to whole trials, is returned.
    With one run, or every trial alike, the design effect cannot be estimated and is 1.

    Args:
        rates: each run's proportion (successes / trials); NaNs are dropped.
        trials: each run's number of trials (e.g. its KAMs), or one number for all.
        confidence: coverage of the interval.

    Returns:
        ``(proportion, low, high)``; the proportion is the pooled one, which is the mean of
        ``rates`` when every run has as many trials. All NaN without a run.

    """
    x = np.asarray(rates, dtype=float)
    n = np.broadcast_to(np.asarray(trials, dtype=float), x.shape)
    keep = np.isfinite(x)
    x, n = x[keep], n[keep]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    k = np.rint(x * n)  # whole successes
    total = float(n.sum())
    p = float(k.sum() / total)
    deff = 1.0
    if len(x) > 1 and 0.0 < p < 1.0:
        between = len(x) / (len(x) - 1) * float(np.sum((k - p * n) ** 2)) / total ** 2
        deff = max(1.0, between / (p * (1.0 - p) / total))
    n_eff = max(1, round(total / deff))
    low, high = wilson(round(p * n_eff), n_eff, confidence)
    return p, low, high


def summarise(results: pd.DataFrame, outcome: str, by: str | list[str],
              confidence: float = 0.95, *, trials: str | float | None = None) -> pd.DataFrame:
    """Mean of ``outcome`` with its confidence interval in every group of ``by``.

    Args:
        results: one row per run.
        outcome: the column to summarise.
        by: the column(s) whose levels form the groups.
        confidence: coverage of the interval over the runs of a group.
        trials: for an outcome that is a proportion of each run's trials (a capture rate
            is one of its KAMs, ``n_suppliers * n_key_buyers``): the column of those
            counts, or one count; the interval is then :func:`proportion_ci`'s, in
            [0, 1], instead of :func:`mean_ci`'s t interval.

    Returns:
        One row per group: the ``by`` columns, ``mean``, ``low``, ``high`` and ``n``.

    """
    keys = [by] if isinstance(by, str) else list(by)
    for column in [*keys, outcome, *([trials] if isinstance(trials, str) else [])]:
        if column not in results:
            raise KeyError(f"results have no column {column!r}")
    rows = []
    for level, group in results.groupby(keys, sort=True):
        level = level if isinstance(level, tuple) else (level,)
        if trials is None:
            mean, low, high = mean_ci(group[outcome], confidence)
        else:
            counts = group[trials] if isinstance(trials, str) else trials
            mean, low, high = proportion_ci(group[outcome], counts, confidence)
        rows.append({**dict(zip(keys, level, strict=True)), "mean": mean, "low": low,
                     "high": high, "n": int(group[outcome].notna().sum())})
    return pd.DataFrame(rows)


# --- interventions on common random numbers ---------------------------------------------
def one_at_a_time(results: pd.DataFrame, levers: list[str]) -> dict[str, dict[str, float]]:
    """Settings of the status quo and of each lever alone, found in a factorial sweep.

    The status quo is every lever at its smallest swept value; the treatment "lever X" is
    X at its largest swept value with all others at the status quo. When the sweep also
    holds the point with every lever at its largest value, it is returned as
    ``"all levers"``.

    Args:
        results: one row per run, with a column per lever.
        levers: the swept levers.

    Returns:
        ``{"status quo": {lever: value}, lever: {...}, ...}``, only for settings the
        results actually hold.

    """
    low = {name: float(results[name].min()) for name in levers}
    high = {name: float(results[name].max()) for name in levers}
    settings = {"status quo": dict(low)}
    for name in levers:
        if high[name] > low[name]:
            settings[name] = {**low, name: high[name]}
    if len(levers) > 1:
        settings["all levers"] = dict(high)
    return {k: v for k, v in settings.items() if len(select_setting(results, v))}


def select_setting(results: pd.DataFrame, setting: dict[str, float]) -> pd.DataFrame:
    """The runs at ``setting`` (``{parameter: value}``, values compared with tolerance)."""
    mask = np.ones(len(results), dtype=bool)
    for name, value in setting.items():
        mask &= np.isclose(results[name].to_numpy(dtype=float), value)
    return results[mask]


def paired_differences(results: pd.DataFrame, outcome: str,
                       settings: dict[str, dict[str, float]], *, control: str = "status quo",
                       pair_on: str = "seed", confidence: float = 0.95) -> pd.DataFrame:
    """Each treatment minus the control, paired run by run on common random numbers.

    Runs of a treatment and of the control that share ``pair_on`` (the seed, under common
    random numbers) form a pair; the interval is a t interval over the pairs' differences,
    which is narrower than comparing two independent means when the runs are correlated.

    Args:
        results: one row per run.
        outcome: the outcome compared.
        settings: ``{name: {parameter: value}}`` as from :func:`one_at_a_time`; it must
            hold ``control``.
        control: the name of the control setting.
        pair_on: the column that pairs runs.
        confidence: coverage of the interval.

    Returns:
        One row per treatment: ``treatment``, ``control_mean``, ``treated_mean``, ``diff``
        (treated minus control), ``low``, ``high`` and ``n_pairs``.

    Raises:
        KeyError: ``control`` is not among ``settings``.
        ValueError: a treatment shares no ``pair_on`` value with the control.

    """
    if control not in settings:
        raise KeyError(f"settings have no control {control!r}")
    base = select_setting(results, settings[control]).groupby(pair_on)[outcome].mean()
    rows = []
    for name, setting in settings.items():
        if name == control:
            continue
        treated = select_setting(results, setting).groupby(pair_on)[outcome].mean()
        common = base.index.intersection(treated.index)
        if len(common) == 0:
            raise ValueError(f"{name}: no run shares a {pair_on} with the {control}; "
                             "were common random numbers switched off?")
        diff = treated[common] - base[common]
        mean, low, high = mean_ci(diff.to_numpy(), confidence)
        rows.append({"treatment": name, "control_mean": float(base[common].mean()),
                     "treated_mean": float(treated[common].mean()), "diff": mean,
                     "low": low, "high": high, "n_pairs": len(common)})
    return pd.DataFrame(rows)


# --- margin erosion, capture classes, hysteresis ----------------------------------------
def erosion_attribution(results: pd.DataFrame, by: str) -> pd.DataFrame:
    """Mean margin erosion by source (price, demands, resources) in every group of ``by``.

    Returns:
        One row per level of ``by``: the level, each column of :data:`EROSION` (share of
        revenue, mean over runs), ``total`` and each source's ``share_<source>`` of the
        total, and ``n``.

    """
    missing = [c for c in [by, *EROSION] if c not in results]
    if missing:
        raise KeyError(f"results have no column {missing[0]!r}")
    table = results.groupby(by, sort=True)[list(EROSION)].mean()
    table["total"] = table[list(EROSION)].sum(axis=1)
    for column in EROSION:
        table[f"share_{column}"] = np.where(table["total"] > 0,
                                            table[column] / table["total"], 0.0)
    table["n"] = results.groupby(by, sort=True).size()
    return table.reset_index()


def capture_class(capture_rate: pd.Series, threshold: float = 0.5) -> pd.Series:
    """Label runs ``"captured"`` (at least ``threshold`` of KAMs captured) or not."""
    return pd.Series(np.where(capture_rate >= threshold, "captured", "not captured"),
                     index=capture_rate.index)


def margin_gap(results: pd.DataFrame, outcome: str, *, along: str = CLIENT_SHARE,
               threshold: float = 0.5) -> dict[str, float]:
    """How much lower ``outcome`` is in captured runs than in others at the same ``along``.

    Runs are split by :func:`capture_class`; at every level of ``along`` holding both kinds
    the difference of means (captured minus not) is taken, and the differences are
    averaged, weighted by the smaller group's size, so that the comparison is made at
    equal client share rather than between different parts of the design.

    Returns:
        ``{"gap", "captured", "not_captured", "levels"}``: the weighted mean difference, the
        weighted means of each class, and the number of levels compared (gap NaN if none).

    """
    cls = capture_class(results[CAPTURE_RATE], threshold)
    gaps, weights, cap, free = [], [], [], []
    for _, group in results.groupby(along):
        kind = cls[group.index]
        a = group.loc[kind == "captured", outcome]
        b = group.loc[kind == "not captured", outcome]
        if len(a) and len(b):
            gaps.append(a.mean() - b.mean())
            cap.append(a.mean())
            free.append(b.mean())
            weights.append(min(len(a), len(b)))
    if not gaps:
        nan = float("nan")
        return {"gap": nan, "captured": nan, "not_captured": nan, "levels": 0}
    w = np.asarray(weights, dtype=float)
    return {"gap": float(np.average(gaps, weights=w)),
            "captured": float(np.average(cap, weights=w)),
            "not_captured": float(np.average(free, weights=w)), "levels": len(gaps)}


def hysteresis_branches(results: pd.DataFrame, *, start: str = PRESSURE,
                        level: str = PRESSURE_AFTER, outcome: str = CAPTURE_RATE,
                        confidence: float = 0.95) -> pd.DataFrame:
    """The two branches of a hysteresis experiment: pressure raised, and pressure lowered.

    Runs start at a low or a high pressure (``start``) and switch to ``level`` part-way.
    Runs that start at the lowest ``start`` form the rising branch ("up"), those at the
    highest the falling branch ("down"); each gives ``outcome`` at the end against the
    pressure it ended at.

    Returns:
        One row per (branch, level): ``branch``, ``level``, ``mean``, ``low``, ``high``, ``n``.

    """
    starts = results[start]
    branch = np.where(np.isclose(starts, starts.min()), "up",
                      np.where(np.isclose(starts, starts.max()), "down", ""))
    frame = results.assign(branch=branch)
    frame = frame[frame.branch != ""]
    table = summarise(frame, outcome, ["branch", level], confidence)
    return table.rename(columns={level: "level"})


def hysteresis_gap(branches: pd.DataFrame) -> pd.DataFrame:
    """Down-branch minus up-branch outcome at every level both branches hold."""
    wide = branches.pivot(index="level", columns="branch", values="mean").dropna()
    return pd.DataFrame({"level": wide.index, "up": wide["up"].to_numpy(),
                         "down": wide["down"].to_numpy(),
                         "gap": (wide["down"] - wide["up"]).to_numpy()})


def sobol_indices(results: pd.DataFrame, names: Sequence[str], outcome: str, *,
                  second_order: bool = False, confidence: float = 0.95,
                  seed: int = 0) -> pd.DataFrame:
    """First-order and total Sobol indices of ``outcome`` from a Saltelli-design sweep.

    The runs must come from a ``method = "sobol"`` experiment: its design points, in
    order, are SALib's Saltelli sample, so the point means of ``outcome`` are the model
    evaluations SALib's estimator expects. Replications are averaged per point first.

    Args:
        results: one row per run, with columns ``point`` and ``outcome``.
        names: the varied parameters, in the experiment's order.
        outcome: the output to decompose.
        second_order: whether the design was sampled with second-order indices.
        confidence: width of SALib's bootstrap intervals.
        seed: seed of those bootstraps.

    Returns:
        One row per parameter: ``parameter``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf``
        (``*_conf`` is the half-width of the interval), sorted by ``ST``, largest first.

    """
    from SALib.analyze import sobol

    y = results.groupby("point", sort=True)[outcome].mean().to_numpy(dtype=float)
    d = len(names)
    per_block = 2 * d + 2 if second_order else d + 2
    if len(y) % per_block or results["point"].nunique() != results["point"].max() + 1:
        raise ValueError(f"{len(y)} design points are not a complete Saltelli sample of "
                         f"{d} parameters")
    problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d}
    found = sobol.analyze(problem, y, calc_second_order=second_order,
                          conf_level=confidence, seed=seed)
    table = pd.DataFrame({"parameter": list(names), "S1": found["S1"],
                          "S1_conf": found["S1_conf"], "ST": found["ST"],
                          "ST_conf": found["ST_conf"]})
    return table.sort_values("ST", ascending=False, ignore_index=True)


@dataclass(frozen=True)
class Condition:
    """What would have to be true of one constant for an outcome to cross a threshold.

    Attributes:
        constant: the constant (a column of the draws) whose rank correlation with the
            outcome is the strongest.
        rho: that Spearman rank correlation over the draws.
        side: ``"<"`` or ``">"``: the outcome is above the threshold in draws with the
            constant below (``"<"``) or above (``">"``) ``cut``.
        cut: the value of the constant that best separates draws above the threshold from
            the others (midway between the two draws it falls between).
        accuracy: share of draws the rule ``constant side cut`` classifies right.
        above: share of draws whose outcome is above the threshold.

    """

    constant: str
    rho: float
    side: str
    cut: float
    accuracy: float
    above: float


def what_would_have_to_be_true(draws: pd.DataFrame, outcome: pd.Series,
                               threshold: float = 0.5) -> Condition | None:
    """The constant and cut that best say when ``outcome`` exceeds ``threshold`` over draws.

    Over constant sets (e.g. posterior draws; one row each in ``draws``, a column per
    constant) and the outcome each gives (e.g. the share of KAMs captured at one setting),
    take the constant most rank-correlated with the outcome (Spearman) and the one-sided
    cut on it that classifies the most draws right (outcome above the threshold or not).
    ``None`` when the outcome never or always exceeds the threshold, or nothing varies: no
    constant decides it then.
    """
    y = np.asarray(outcome, dtype=float)
    above = y > threshold
    if above.all() or not above.any():
        return None
    ranks = pd.Series(y).rank().to_numpy()
    best: tuple[float, str] | None = None
    for name in draws.columns:
        x = draws[name].to_numpy(dtype=float)
        if np.ptp(x) == 0:
            continue
        rho = float(np.corrcoef(pd.Series(x).rank().to_numpy(), ranks)[0, 1])
        if np.isfinite(rho) and (best is None or abs(rho) > abs(best[0])):
            best = (rho, name)
    if best is None:
        return None
    rho, name = best
    x = draws[name].to_numpy(dtype=float)
    order = np.argsort(x, kind="stable")
    xs, hits = x[order], above[order]
    side = "<" if rho < 0 else ">"
    # rule "above iff x < cut" (or > cut); try every cut between distinct sorted values
    right = -1, 0.0
    for k in range(1, len(xs)):
        if xs[k] == xs[k - 1]:
            continue
        low_is_above = side == "<"
        correct = int(hits[:k].sum() if low_is_above else (~hits[:k]).sum()) + int(
            (~hits[k:]).sum() if low_is_above else hits[k:].sum())
        if correct > right[0]:
            right = correct, float((xs[k - 1] + xs[k]) / 2)
    return Condition(name, rho, side, right[1], right[0] / len(xs), float(above.mean()))
