"""The Markdown tables that document the model: parameters, structural constants, outcomes.

``kamabm params`` prints :func:`parameter_table`; ``scripts/update_odd.py`` writes all
three into ``docs/ODD.md``, and ``tests/test_odd.py`` checks that they are current. Every
cell comes from a parameter's :class:`~kamabm.model.spec.Spec` or an outcome's
:class:`~kamabm.model.outcomes.Outcome`; nothing is typed here.
"""

from __future__ import annotations

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
