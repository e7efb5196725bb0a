"""One vocabulary: every parameter and outcome has plain words, and charts print them.

Labels and units live on each parameter's spec and each outcome's record; names.py, the
app's controls, chart axes, legends and captions, report tables and the ODD read them.
A code name (``kam_pressure``) printed where a reader expects words is a failure here.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from kamabm.app.labels import control
from kamabm.model.outcomes import OUTCOMES
from kamabm.model.params import LAST_YEAR, LEVER, STRUCTURAL, Parameters
from kamabm.names import (
    MOST_CAPTURED,
    PERCENT_UNITS,
    human,
    in_percent,
    known,
    label,
    percent_unit,
    plain_words,
    setting_text,
    value_text,
)
from kamabm.report.charts.base import setting
from kamabm.report.charts.levers import setting_name
from kamabm.report.charts.screening import chart_title

NAMES = [*Parameters.names(), *OUTCOMES]
#: Levers and structural constants: the parameters sweeps vary besides the market.
SWEPT = [n for n in Parameters.names() if Parameters.spec(n).group in (LEVER, STRUCTURAL)]
CODE_NAME = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_and_outcome_has_a_label_that_is_not_its_code_name(name):
    words = human(name)
    assert words and words != name and words != name.replace("_", " "), name
    assert "_" not in words, f"{name}: label in code words: {words}"
    assert words == words.strip() and "  " not in words, name


def test_labels_are_unique_so_a_table_never_shows_two_columns_alike():
    assert len({human(n) for n in Parameters.names()}) == len(Parameters.names())
    assert len({o.label for o in OUTCOMES.values()}) == len(OUTCOMES)
    assert not set(Parameters.names()) & set(OUTCOMES)  # a name means one thing


def test_an_unknown_name_has_no_label():
    with pytest.raises(KeyError, match="neither a parameter nor an outcome"):
        human("kam_presure")


@pytest.mark.parametrize(("name", "percent", "expected"), [
    ("client_revenue_share", True, "key clients' share of turnover (%)"),
    ("client_revenue_share", False, "key clients' share of turnover"),
    ("kam_pressure", False, "sales pressure on KAMs, 0 none to 1 maximum"),
    ("rotation_months", False, "rotating KAMs between clients (months), 0 never"),
    ("smb_growth", True, "extra small-client acquisition (% a month)"),
    ("horizon_months", False, "length of the run (months)"),
    ("supplier_margin", True, "supplier net margin (% of revenue)"),
    ("key_account_margin", True, "key-account gross margin (% of key revenue)"),
])
def test_a_label_carries_its_unit_unless_the_words_already_say_it(name, percent, expected):
    assert label(name, percent=percent) == expected


def test_one_rule_says_which_units_are_shown_in_percent():
    assert [percent_unit(u) for u in PERCENT_UNITS] == ["%", "%", "% a month"]
    assert percent_unit("share of revenue") == "% of revenue"
    assert percent_unit("index") is None and percent_unit("months") is None
    assert value_text("client_revenue_share", 0.55) == "55 %"
    assert value_text("smb_growth", 0.02) == "2 % a month"
    assert value_text("rotation_months", 12) == "12 months"
    # the explorer scales exactly the parameters whose values read in percent
    for name in ("client_revenue_share", "learning_ability", "smb_growth"):
        assert control(name).scale == 100 and "%" in control(name).label
    for name in ("kam_pressure", "n_suppliers", "rotation_months"):
        assert control(name).scale == 1 and "%" not in control(name).label


@pytest.mark.parametrize("name", SWEPT)
def test_what_charts_and_captions_print_of_a_swept_parameter_has_no_code_name(name):
    value = Parameters.spec(name).low
    printed = [human(name), label(name), label(name, percent=True), setting_name(name),
               setting_text({name: value}), value_text(name, value)]
    for text in printed:
        assert not CODE_NAME.search(text), f"{name}: {text!r}"


def _results(**base):
    experiment = SimpleNamespace(base=Parameters(**base), name="test", replications=2)
    return SimpleNamespace(experiment=experiment, runs=pd.DataFrame({"x": [0, 1]}),
                           varied=())


@pytest.mark.parametrize("name", SWEPT)
def test_a_caption_names_a_fixed_setting_in_words(name):
    spec = Parameters.spec(name)
    value = spec.high if spec.high != Parameters.default(name) else spec.low
    value = int(value) if Parameters.is_integer(name) else value
    caption = setting(_results(**{name: value}))
    assert human(name) in caption and not CODE_NAME.search(caption), caption


def test_the_screening_title_names_factors_and_outcomes_in_words():
    indices = pd.DataFrame({"outcome": ["capture_rate", "margin"], "rank": [1, 1],
                            "parameter": ["kam_pressure", "w_skill"]})
    text = chart_title(indices)
    assert "KAMs captured: sales pressure on KAMs" in text
    assert "margin: felt pressure removed by skill" in text
    assert not CODE_NAME.search(text), text


def test_the_window_and_the_majority_cut_are_named_once():
    assert OUTCOMES["key_account_margin"].meaning.endswith(f"last {LAST_YEAR} months")
    assert 0 < MOST_CAPTURED < 1
    charts = Path(__file__).resolve().parent.parent / "kamabm" / "report" / "charts"
    for module in ("factors", "maps", "ensemble", "levers", "sensitivity", "mechanisms"):
        source = (charts / f"{module}.py").read_text(encoding="utf-8")
        assert not re.search(r"last 12 months|>= 0\.5\b|\b50 %", source), module


# --- what charts print, and what a typed text says -------------------------------------------
def _drawn_texts(an, out: Path) -> dict[str, list[str]]:
    """Every text each chart of ``an`` prints (titles, axes, ticks, legends), by chart file."""
    from matplotlib.figure import Figure
    from matplotlib.text import Text

    from kamabm.report.plots import make_charts

    texts: dict[str, list[str]] = {}
    original = Figure.savefig

    def savefig(fig, fname, *args, **kwargs):
        original(fig, fname, *args, **kwargs)  # drawn: tick labels are set now
        texts[Path(fname).stem] = [t.get_text() for t in fig.findobj(Text)
                                   if t.get_visible() and t.get_text()]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", savefig)
        make_charts(an, out)
    return texts


@pytest.mark.parametrize("name", ["smoke", "interventions", "sensitivity", "dose",
                                  "concentration", "contagion"])
def test_charts_print_no_parameter_or_outcome_by_its_code_name(name, swept, tmp_path):
    from kamabm.analysis.results import load
    from kamabm.analysis.tables import analyse

    an = analyse(load(swept[name]), n_boot=20, typical=False)
    texts = _drawn_texts(an, tmp_path)
    assert texts and all(texts.values())
    printed = " ".join(t for chart in texts.values() for t in chart)
    assert human("capture_rate") in printed or "KAMs captured" in printed
    found = {w for w in CODE_NAME.findall(printed) if known(w)}
    assert not found, (name, found)


def test_a_typed_text_reads_in_labels_and_ordinary_words_stay():
    text = "for 50 constant sets (theta, opening_cut, w_keep): kam_pressure 0.25, training"
    assert plain_words(text) == (
        f"for 50 constant sets (theta, {human('opening_cut')}, {human('w_keep')}): "
        f"{human('kam_pressure')} 0.25, training")
    assert plain_words("a not_a_parameter here") == "a not_a_parameter here"


def test_values_in_percent_are_the_ones_value_text_writes_in_percent():
    for name in NAMES:
        assert in_percent(name) == ("%" in value_text(name, 0.5)), name
    assert in_percent("client_revenue_share") and in_percent("capture_rate")
    assert not in_percent("kam_pressure") and not in_percent("rotation_months")
