"""The Markdown tables that document the model: parameters, structural constants, outcomes.

``kamabm params`` prints :func:`parameter_table`; ``scripts/update_odd.py`` writes them
(and, from the committed calibration, :func:`calibrated_table` and
:func:`calibration_targets_table`) into ``docs/ODD.md``, and ``tests/test_odd.py`` checks
that they are current. Every cell comes from a parameter's :class:`~kamabm.model.spec.Spec`,
an outcome's :class:`~kamabm.model.outcomes.Outcome` or the calibration's tables; nothing is
typed here.
"""

from __future__ import annotations

import csv
from pathlib import Path

from kamabm.model.outcomes import OUTCOMES
from kamabm.model.params import Parameters
from kamabm.model.spec import GROUPS, STRUCTURAL, Spec, default_text, number_text


def _unit(spec: Spec) -> str:
    return f"{spec.unit}; {spec.scale}" if spec.scale else spec.unit


def parameter_table() -> str:
    """The parameter table, by group; structural constants are in :func:`constants_table`."""
    rows = ["| group | name | label | default | unit | range | meaning |",
            "|---|---|---|---|---|---|---|"]
    for group in GROUPS:
        if group == STRUCTURAL:
            continue
        for name in Parameters.names():
            spec = Parameters.spec(name)
            if spec.group == group:
                rows.append(f"| {group} | `{name}` | {spec.label} | "
                            f"{default_text(Parameters.default(name))} | {_unit(spec)} | "
                            f"{spec.range_text()} | {spec.meaning} |")
    return "\n".join(rows)


def constants_table() -> str:
    """The structural constants: value, plausible range, meaning, source or assumption."""
    rows = ["| name | label | value | unit | plausible range | meaning | source or assumption |",
            "|---|---|---|---|---|---|---|"]
    for name in Parameters.names():
        spec = Parameters.spec(name)
        if spec.group == STRUCTURAL:
            rows.append(f"| `{name}` | {spec.label} | {number_text(Parameters.default(name))} "
                        f"| {_unit(spec)} | {spec.range_text()} | {spec.meaning} | "
                        f"{spec.source} |")
    return "\n".join(rows)


def outcome_table() -> str:
    """The outcomes of a run: label, unit and meaning of each."""
    rows = ["| name | label | unit | meaning |", "|---|---|---|---|"]
    rows += [f"| `{name}` | {o.label} | {o.unit} | {o.meaning} |" for name, o in OUTCOMES.items()]
    return "\n".join(rows)


#: The committed calibration's per-constant table (written by ``kamabm calibrate``).
CALIBRATED_CONSTANTS = (Path(__file__).resolve().parents[2] / "results" / "calibration"
                        / "constants.csv")


def calibrated_table(path: Path = CALIBRATED_CONSTANTS) -> str:
    """The calibrated constants: default, prior, posterior and whether the data pin each.

    Read from the calibration's ``constants.csv``; the default is the model's (a test
    checks that it is the posterior's median as rounded, inside the central half).
    """
    rows = ["| name | label | default | prior | posterior median | posterior central half "
            "(25 to 75 %) | 90 % of posterior | pinned by the data? |",
            "|---|---|---|---|---|---|---|---|"]
    with path.open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            name = row["constant"]
            g = lambda key, r=row: f"{float(r[key]):.3g}"  # noqa: E731
            prior = f"{g('prior_low')} to {g('prior_high')}" + (
                ", log-uniform" if row["scale"] == "log" else "")
            pinned = (f"yes ({100 * float(row['narrowing']):.0f} % of the prior's central half)"
                      if row["pinned"] == "True" else
                      f"no ({100 * float(row['narrowing']):.0f} %)")
            rows.append(f"| `{name}` | {Parameters.spec(name).label} | "
                        f"{number_text(Parameters.default(name))} | {prior} | "
                        f"{g('posterior_median')} | {g('posterior_q25')} to "
                        f"{g('posterior_q75')} | {g('posterior_q05')} to {g('posterior_q95')} | "
                        f"{pinned} |")
    return "\n".join(rows)


#: The committed calibration's targets against the model (written by ``kamabm calibrate``).
CALIBRATION_TARGETS = CALIBRATED_CONSTANTS.with_name("targets.csv")


def calibration_targets_table(path: Path = CALIBRATION_TARGETS) -> str:
    """The calibration's targets: published value or bound, the model at the posterior.

    Read from the calibration's ``targets.csv``; held-out targets (measured, not fitted)
    are marked.
    """
    rows = ["| target | source | published | model at the posterior (90 % of particles) "
            "| met? | fitted? |", "|---|---|---|---|---|---|"]
    sides = {"equal": "", "at_most": "at most ", "at_least": "at least "}
    with path.open(encoding="utf-8", newline="") as file:
        for row in csv.DictReader(file):
            g = lambda key, r=row: f"{float(r[key]):.3g}"  # noqa: E731
            wanted = (f"{sides[row['bound']]}{g('value')} "
                      f"({'±' if row['bound'] == 'equal' else 'tolerance '}{g('tolerance')})")
            rows.append(f"| {row['target'].replace('_', ' ')} | {row['source']} | {wanted} | "
                        f"{g('posterior_mean')} ({g('posterior_low')} to "
                        f"{g('posterior_high')}) | {'yes' if row['matched'] == 'True' else 'no'}"
                        f" | {'yes' if row['fitted'] == 'True' else 'held out'} |")
    return "\n".join(rows)
