"""docs/ODD.md stays true to the code: parameter table and fixed constants."""

import importlib
import re
from pathlib import Path

import pytest

from kamabm.params import Parameters

ODD = (Path(__file__).resolve().parent.parent / "docs" / "ODD.md").read_text(encoding="utf-8")


def test_parameter_table_matches_the_parameter_object():
    block = ODD.split("<!-- parameters:begin -->")[1].split("<!-- parameters:end -->")[0]
    assert block.strip() == Parameters.markdown_table().strip(), (
        "docs/ODD.md is out of date: run `python scripts/update_odd.py`")


CONSTANTS = re.findall(r"^\| `([A-Z_]+)` \| ([0-9.]+) \| (\w+) \|", ODD, flags=re.M)


def test_the_constants_table_is_not_empty():
    assert len(CONSTANTS) >= 15


@pytest.mark.parametrize(("name", "value", "module"), CONSTANTS)
def test_each_documented_constant_has_its_value_in_the_code(name, value, module):
    code = importlib.import_module(f"kamabm.{module}")
    assert getattr(code, name) == pytest.approx(float(value))


@pytest.mark.parametrize("section", ["1. Purpose and patterns", "2. Entities",
                                     "3. Process overview", "4. Design concepts",
                                     "5. Initialization", "6. Input data", "7. Submodels"])
def test_all_seven_odd_sections_are_there(section):
    assert f"## {section}" in ODD


def test_the_schedule_in_the_odd_is_the_order_step_runs():
    import inspect

    from kamabm.model import KAMMarket

    source = inspect.getsource(KAMMarket.step)
    calls = re.findall(r'do\("(\w+)"\)', source)
    documented = re.findall(r"\(`(?:KeyBuyer|KAM|Supplier)\.(\w+)`\)", ODD.split("## 4.")[0])
    assert calls == documented
