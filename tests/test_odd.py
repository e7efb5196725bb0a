"""docs/ODD.md stays true to the code: parameter, constants and outcome tables."""

import importlib
import re
from pathlib import Path

import pytest

from kamabm.model.doc_tables import (
    CALIBRATED_CONSTANTS,
    calibrated_table,
    calibration_targets_table,
    constants_table,
    outcome_table,
    parameter_table,
)
from kamabm.model.params import Parameters

ODD = (Path(__file__).resolve().parent.parent / "docs" / "ODD.md").read_text(encoding="utf-8")


def _block(name):
    return ODD.split(f"<!-- {name}:begin -->")[1].split(f"<!-- {name}:end -->")[0]


@pytest.mark.parametrize(("name", "table"), [("parameters", parameter_table),
                                             ("constants", constants_table),
                                             ("outcomes", outcome_table),
                                             ("calibrated", calibrated_table),
                                             ("calibration-targets",
                                              calibration_targets_table)])
def test_each_table_matches_the_code(name, table):
    assert _block(name).strip() == table().strip(), (
        "docs/ODD.md is out of date: run `python scripts/update_odd.py`")


def test_every_structural_constant_is_documented_and_every_documented_one_exists():
    documented = set(re.findall(r"^\| `(\w+)` \|", _block("constants"), flags=re.M))
    declared = {n for n in Parameters.names() if Parameters.spec(n).group == "structural"}
    assert documented == declared
    assert len(declared) >= 50
    for name in declared:
        spec = Parameters.spec(name)
        assert spec.source and spec.meaning and spec.unit, name
        assert spec.admits(Parameters.default(name)), name


def test_the_defaults_are_the_calibrated_point_inside_every_central_half():
    """One model: every fitted constant's default is the calibration's point estimate
    (``results/calibration/point.csv``, chosen by ``scripts/point-estimate.py``) and lies
    inside its posterior's central half."""
    import csv

    with CALIBRATED_CONSTANTS.open(encoding="utf-8", newline="") as file:
        halves = {r["constant"]: (float(r["posterior_q25"]), float(r["posterior_q75"]))
                  for r in csv.DictReader(file)}
    with CALIBRATED_CONSTANTS.with_name("point.csv").open(encoding="utf-8",
                                                          newline="") as file:
        point = {r["constant"]: float(r["value"]) for r in csv.DictReader(file)}
    assert set(point) == set(halves) and len(point) >= 5
    for name, value in point.items():
        default = Parameters.default(name)
        assert default == pytest.approx(value), (name, default, value)
        assert halves[name][0] <= default <= halves[name][1], (name, default, halves[name])


MODEL_MODULES = ("kam", "buyer", "supplier", "market", "account")
#: Literals a model module may hold without a declared name: identities (0, 1), halving
#: and doubling in closed forms, months per year, and tiny numerical guards.
ALLOWED_LITERALS = {0, 1, 2, 12, 1e-3, 1e-9, 1e-12}


@pytest.mark.parametrize("module", MODEL_MODULES)
def test_model_code_holds_no_unnamed_behavioural_numbers(module):
    import ast

    source = importlib.import_module(f"kamabm.model.{module}").__file__
    tree = ast.parse(Path(source).read_text(encoding="utf-8"))
    # The observation constants (documented in the ODD) are the only named module numbers.
    observation = {"CAPTURED_BELOW", "FIVE_YEARS"}
    for node in list(tree.body):
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) in observation):
            tree.body.remove(node)
    stray = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
                and not isinstance(node.value, bool) and node.value not in ALLOWED_LITERALS):
            stray.append((node.lineno, node.value))
    assert not stray, f"kamabm/model/{module}.py has unnamed numbers (line, value): {stray}"


@pytest.mark.parametrize("section", ["1. Purpose and patterns", "2. Entities",
                                     "3. Process overview", "4. Design concepts",
                                     "5. Initialization", "6. Input data", "7. Submodels"])
def test_all_seven_odd_sections_are_there(section):
    assert f"## {section}" in ODD


def test_the_schedule_in_the_odd_is_the_order_step_runs():
    import inspect

    from kamabm.model.market import KAMMarket

    source = inspect.getsource(KAMMarket.step)
    calls = re.findall(r'do\("(\w+)"\)', source)
    documented = re.findall(r"\(`(?:KeyBuyer|KAM|Supplier)\.(\w+)`\)", ODD.split("## 4.")[0])
    assert calls == documented
