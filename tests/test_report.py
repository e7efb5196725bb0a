"""The HTML report: a plain-words summary first, findings computed from the data, charts
embedded, tables that fit a 1,280 px window and print to A4 uncut, provenance folded away
at the end; and the optional slide deck, one chart a slide."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import plot_command
from plot_fixtures import interrupt

from kamabm.analysis.results import load
from kamabm.names import human, known, label, pct
from kamabm.report.html import MAX_TABLE_ROWS
from kamabm.report.summary import detailed_findings, executive_summary

#: A code name in running text: lower-case words joined by underscores.
CODE_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")

#: The printable width of an A4 page with the report's 14 mm margins, in CSS pixels.
A4_PRINTABLE = round((210 - 2 * 14) / 25.4 * 96)


@pytest.fixture(scope="module")
def reports(reported):
    return reported  # written once a session (conftest.py), their charts shared with test_plots


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_report_embeds_every_chart_and_fetches_nothing(reports):
    for path, charts, _ in reports.values():
        text = path.read_text(encoding="utf-8")
        parser = _Images()
        parser.feed(text)
        assert len(parser.sources) == len(charts) >= 2
        assert all(s.startswith("data:image/svg+xml;base64,") for s in parser.sources)
        # nothing outside the file is needed to show it (CSV links are optional downloads)
        assert not re.search(r"""<(script|link)[^>]+(src|href)=""", text)


def test_report_states_findings_computed_from_the_results(reports):
    path, _, an = reports["smoke"]
    text = path.read_text(encoding="utf-8")
    found = executive_summary(an)
    assert found.points
    for sentence in [found.status_quo, *found.points, *detailed_findings(an)]:
        assert sentence.replace("'", "&#x27;") in text
    # the margin comparison quotes the actual mean margins of the two groups of points
    means = an.results.runs.groupby(["client_revenue_share", "kam_pressure"]).mean(
        numeric_only=True)
    if (means.capture_rate >= 0.5).any():
        assert pct(means[means.capture_rate >= 0.5].supplier_margin.mean()) in text


def test_report_opens_with_a_plain_summary_and_folds_provenance_away_at_the_end(reports):
    text = reports["smoke"][0].read_text(encoding="utf-8")
    summary, figure = text.index("<section class=summary"), text.index("<figure")
    provenance = text.index("<details id=provenance>")
    assert summary < figure < provenance
    assert "master seed" in text[provenance:] and "master seed" not in text[:provenance]
    head = text[summary:figure]
    assert "key clients&#x27; share of turnover" in head  # human names, not code names
    assert "client_revenue_share" not in head and "kam_pressure" not in head
    assert re.search(r"\d+\.\d %", head)  # percentages, not raw fractions
    assert "status quo" in head


def test_intervention_report_states_the_status_quo_and_each_lever_in_plain_words(reports):
    path, _, an = reports["interventions"]
    text = path.read_text(encoding="utf-8")
    head = text[:text.index("<figure")]
    runs = an.results.runs
    status_quo = runs[(runs.senior_support == 0) & (runs.rotation_months == 0)
                      & (runs.training == 0)].capture_rate.mean()
    assert f"there {pct(status_quo, 0)} of KAMs end up captured" in head
    for lever in ("senior managers at key negotiations", "rotating KAMs between clients",
                  "training with protected learning time"):
        assert lever in head
    assert "paired over 4 seeds" in text  # the details, level by level, further down


def test_report_tables_show_percentages_not_raw_fractions(reports):
    text = reports["smoke"][0].read_text(encoding="utf-8")
    tables = text[text.index("<h2>Tables</h2>"):text.index("<h2>Details</h2>")]
    cells = re.findall(r"<td>([^<]*)</td>", tables)
    assert any(c.endswith(" %") for c in cells)
    assert not any(re.fullmatch(r"0\.\d{3,}", c) for c in cells)


def test_report_command_refuses_a_folder_without_results(tmp_path, capsys):
    assert plot_command(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kamabm report: error: ")


def test_report_command_refuses_a_folder_as_its_output_file(reports, tmp_path, capsys):
    results = reports["smoke"][0].parent
    assert plot_command(["report", str(results), "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_report_renders_in_headless_chromium_with_every_image_loaded(reports, browser):
    for path, charts, _ in reports.values():
        page = browser.new_page()
        outside: list[str] = []
        page.on("request", lambda r, seen=outside: seen.append(r.url)
                if not r.url.startswith(("file:", "data:")) else None)
        errors: list[str] = []
        page.on("pageerror", lambda e, seen=errors: seen.append(str(e)))
        page.goto(path.as_uri(), wait_until="load")
        images = page.eval_on_selector_all(
            "img", "els => els.map(e => [e.complete, e.naturalWidth, "
                   "e.naturalHeight, e.getBoundingClientRect().width])")
        assert len(images) == len(charts)
        for complete, width, height, shown in images:
            assert complete and width > 0 and height > 0 and shown > 100
        assert "kamabm report" in page.title()
        assert page.locator("h2", has_text="Summary").count() == 1
        assert page.locator("#summary li").count() >= 1
        assert outside == [] and errors == []
        page.close()


_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const cut = [...document.querySelectorAll('table, figure, img, p, li')]
    .filter(e => e.getBoundingClientRect().right > width + 0.5 || e.scrollWidth > e.clientWidth + 1)
    .map(e => e.tagName + ': ' + e.textContent.slice(0, 40));
  return {width, page: document.documentElement.scrollWidth, cut};
}"""


def test_report_fits_a_1280_px_window_and_prints_to_a4_without_cut_tables(reports, browser):
    for name, (path, _, _) in reports.items():
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(path.as_uri(), wait_until="load")
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        screen = page.evaluate(_OVERFLOW)
        assert screen["page"] <= 1280 and screen["cut"] == [], (name, screen)
        # printed: the page is as wide as A4's printable width, in print styles
        page.emulate_media(media="print")
        page.set_viewport_size({"width": A4_PRINTABLE, "height": 1100})
        printed = page.evaluate(_OVERFLOW)
        assert printed["page"] <= A4_PRINTABLE and printed["cut"] == [], (name, printed)
        assert len(page.pdf(format="A4")) > 10_000
        page.close()


def test_report_of_an_interrupted_sweep_says_in_its_summary_how_many_runs_are_missing(
        reports, tmp_path, capsys):
    partial = interrupt(reports["smoke"][0].parent, tmp_path, 2)
    stored = len(load(partial).runs)
    out = tmp_path / "partial.html"
    assert plot_command(["report", str(partial), "--out", str(out), "--n-boot", "20",
                         "--no-typical-runs"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("runs are missing") == 1
    summary = out.read_text(encoding="utf-8").split("</section>")[0]
    assert f"{48 - stored} of 48 runs are missing" in summary


# --- the slide deck -------------------------------------------------------------------------
def test_report_deck_has_a_summary_slide_then_one_chart_a_slide(reports, tmp_path, capsys):
    pptx = pytest.importorskip("pptx")
    results = reports["interventions"][0].parent
    out = tmp_path / "board.html"
    assert plot_command(["report", str(results), "--out", str(out), "--deck",
                         "--n-boot", "20", "--no-typical-runs"]) == 0
    assert "deck: " in capsys.readouterr().err
    deck = pptx.Presentation(str(out.with_suffix(".pptx")))
    slides = list(deck.slides)
    charts = sorted((tmp_path / "charts").glob("*.png"))
    assert len(slides) == len(charts) + 1
    assert "status quo" in " ".join(s.text_frame.text for s in slides[0].shapes
                                     if s.has_text_frame)
    for slide in slides[1:]:
        pictures = [s for s in slide.shapes if s.shape_type == 13]
        assert len(pictures) == 1
        pic = pictures[0]
        assert pic.left >= 0 and pic.top >= 0
        assert pic.left + pic.width <= deck.slide_width
        assert pic.top + pic.height <= deck.slide_height
        assert slide.notes_slide.notes_text_frame.text  # the caption, for the speaker


def test_report_deck_without_python_pptx_is_refused_in_one_line(reports, tmp_path, capsys,
                                                                monkeypatch):
    from kamabm.report import deck
    monkeypatch.setattr(deck, "available", lambda: False)
    results = reports["smoke"][0].parent
    out = tmp_path / "r.html"
    assert plot_command(["report", str(results), "--out", str(out), "--deck"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kamabm[deck]" in err.replace("'.[deck]'", "kamabm[deck]")
    assert not out.exists()


def test_a_report_at_the_default_constants_says_so_and_a_sensitivity_report_does_not(reports):
    from kamabm.report.summary import AT_DEFAULT_CONSTANTS

    for name, expected in (("smoke", True), ("interventions", True), ("sensitivity", False)):
        path, _, an = reports[name]
        assert (AT_DEFAULT_CONSTANTS in executive_summary(an).notes) is expected, name
        text = path.read_text(encoding="utf-8").replace("&#x27;", "'")
        assert (AT_DEFAULT_CONSTANTS in text) is expected, name


# --- a report a reader finishes: four A4 pages, long tables as CSV, one column per lever ----
ROOT = Path(__file__).resolve().parents[1]
#: The headline experiment's committed results; its report is built afresh from them.
HEADLINE = ROOT / "results" / "capture_phase"
#: Most A4 pages the headline's report prints on (issue 20, item 5).
HEADLINE_PAGES = 4


def pdf_pages(pdf: bytes) -> int:
    """The number of pages of a PDF Chromium printed (its page objects, checked by the tree)."""
    leaves = len(re.findall(rb"/Type\s*/Page\b", pdf))
    counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\s*/Count\s+(\d+)", pdf)]
    assert counts and max(counts) == leaves  # the page tree's root counts every page
    return leaves


def printed_pages(browser, path: Path) -> int:
    """Pages of ``path`` printed to A4 by headless Chromium, folded details left closed."""
    page = browser.new_page()
    page.goto(path.as_uri(), wait_until="load")
    pages = pdf_pages(page.pdf(format="A4"))
    page.close()
    return pages


def reader_text(text: str) -> str:
    """What a reader reads of a report: its words outside the provenance, links' targets,
    images and the stylesheet left out (link texts, which are file names, too)."""
    body = text[text.index("<body>"):text.index("<details id=provenance>")]
    body = re.sub(r"<a href=\"[^\"]*\">[^<]*</a>", " ", body)
    body = re.sub(r"<[^>]+>", " ", body)
    return html.unescape(body)


def identifiers_in(text: str) -> set[str]:
    """Parameters' and outcomes' code names in ``text`` (names with an underscore)."""
    return {w for w in CODE_NAME.findall(text) if known(w)}


@pytest.fixture(scope="module")
def headline(tmp_path_factory):
    """The headline's report, written fresh from the committed runs by the report command;
    in a clean checkout, which holds no runs, the committed report (which
    scripts/make-results.sh writes with the current code)."""
    if not (HEADLINE / "runs.parquet").is_file():
        return HEADLINE / "report.html"
    out = tmp_path_factory.mktemp("headline") / "report.html"
    assert plot_command(["report", str(HEADLINE), "--out", str(out)]) == 0
    return out


def test_the_headline_report_prints_on_at_most_four_a4_pages_with_every_chart(headline,
                                                                             browser):
    text = headline.read_text(encoding="utf-8")
    charts = sorted((headline.parent / "charts").glob("*.svg"))
    assert len(charts) >= 6 and text.count("<img ") == len(charts)
    pages = printed_pages(browser, headline)
    assert 2 <= pages <= HEADLINE_PAGES, pages


def test_the_small_sweeps_reports_print_on_at_most_four_a4_pages(reports, browser):
    for name, (path, _, _) in reports.items():
        assert printed_pages(browser, path) <= HEADLINE_PAGES, name


def _shown_tables(text: str) -> list[str]:
    """The tables a reader sees (outside folded details), as HTML."""
    outside = re.sub(r"<details.*?</details>", "", text, flags=re.S)
    return re.findall(r"<table>.*?</table>", outside, flags=re.S)


def test_long_tables_are_linked_as_csv_files_not_printed(headline):
    from kamabm.experiments.files import load_experiment

    text = headline.read_text(encoding="utf-8")
    design = pd.DataFrame(load_experiment(ROOT / "experiments" / "capture_phase.toml").points())
    assert set(design.columns) == {"client_revenue_share", "kam_pressure"}
    points = len(design)
    assert points > MAX_TABLE_ROWS  # the one-row-per-design-point table is long
    for table in _shown_tables(text):
        assert table.count("<tr>") <= MAX_TABLE_ROWS + 1  # a header and the rows
    link = 'href="charts/table_design_points.csv"'
    assert link in text and f"{points} rows" in text
    written = pd.read_csv(headline.parent / "charts" / "table_design_points.csv")
    assert len(written) == points
    share, pressure = label("client_revenue_share", percent=True), label("kam_pressure")
    assert {share, pressure, label("capture_rate", percent=True)} <= set(written.columns)
    assert sorted(written[share].unique()) == pytest.approx(
        sorted(100 * design.client_revenue_share.unique()))
    assert not identifiers_in(" ".join(written.columns))  # plain headers
    # each shown table is linked as CSV too, with the same numbers of rows
    for stem in ("boundary",):
        table = pd.read_csv(headline.parent / "charts" / f"table_{stem}.csv")
        assert len(table) == design.kam_pressure.nunique()
        assert f'href="charts/table_{stem}.csv"' in text


def test_the_interventions_table_has_one_column_per_lever(reports):
    path, _, an = reports["interventions"]
    levers = ("senior_support", "rotation_months", "training")
    text = path.read_text(encoding="utf-8")
    after = text[text.index("Mean outcomes at every design point"):]
    table = after[after.index("<table>"):after.index("</table>")]
    headers = [html.unescape(h) for h in re.findall(r"<th[^>]*>([^<]*)</th>", table)]
    assert [h for h in headers if h in {human(n) for n in levers}] == [human(n) for n in levers]
    assert "design point" not in headers
    rows = table.count("<tr>") - 1
    assert rows == 2 ** len(levers)
    written = pd.read_csv(path.parent / "charts" / "table_design_points.csv")
    for lever in levers:
        column = written[label(lever, percent=True)]
        assert sorted(column.unique()) == sorted(an.results.runs[lever].unique())
    # every combination once
    assert not written[[label(n, percent=True) for n in levers]].duplicated().any()


def test_the_committed_interventions_table_has_a_column_for_each_of_its_levers():
    from kamabm.experiments.files import load_experiment

    folder = ROOT / "results" / "interventions"
    experiment = load_experiment(ROOT / "experiments" / "interventions.toml")
    levers = [label(n, percent=True) for n in experiment.levers]
    assert len(levers) >= 5  # more than the four factor columns the table once allowed
    # the table the committed report links, as scripts/make-results.sh wrote it
    table = pd.read_csv(folder / "charts" / "table_design_points.csv")
    assert set(levers) <= set(table.columns)
    assert len(table) == 2 ** len(levers)  # every combination of the levers, once each
    assert not table[levers].duplicated().any()
    assert not any("design point" in c for c in table.columns)
    if (folder / "runs.parquet").is_file():  # and as the report builds it from the runs
        from kamabm.analysis.tables import analyse
        from kamabm.report.html import design_points_table

        res = load(folder)
        built = design_points_table(analyse(res, n_boot=20, typical=False))
        assert set(levers) <= set(built.columns) and len(built) == len(table)


def test_no_parameter_identifier_in_what_a_reader_reads_of_a_report(headline, reports):
    for path in [headline, *(p for p, _, _ in reports.values())]:
        words = reader_text(path.read_text(encoding="utf-8"))
        found = identifiers_in(words)
        assert not found, (path, found)
        assert "isotonic" not in words and "Experiment " not in words, path


def test_a_report_says_the_remarks_on_its_results_in_plain_words(swept, tmp_path):
    out = tmp_path / "report.html"
    assert plot_command(["report", str(swept["one_by_four"]), "--out", str(out),
                         "--n-boot", "20", "--no-typical-runs"]) == 0
    summary = html.unescape(out.read_text(encoding="utf-8").split("</section>")[0])
    assert "the runs vary only key clients' share of turnover" in summary  # not the code name
    assert not identifiers_in(summary)


def test_a_small_clear_effect_shows_its_digits_and_zero_has_no_sign():
    from kamabm.report.studies import points_interval

    assert points_interval(0.000087, 0.000034, 0.000140) == "+0.009 [+0.003, +0.014] *"
    assert points_interval(-0.12, -0.19, -0.05) == "\u221212.0 [\u221219.0, \u22125.0] *"
    assert points_interval(-0.0003, -0.011, 0.005) == "0.0 [\u22121.1, +0.5]"
    assert points_interval(-0.00001, -0.00002, 0.0) == "\u22120.001 [\u22120.002, 0.000]"
    assert points_interval(-0.00001, -0.02, 0.01) == "0.0 [\u22122.0, +1.0]"  # never "-0.0"


@pytest.mark.parametrize("name", ["contagion", "concentration", "one_factor"])
def test_the_findings_level_by_level_name_nothing_by_its_code_name(swept, name):
    from kamabm.analysis.tables import analyse

    an = analyse(load(swept[name]), n_boot=20, typical=False)
    found = detailed_findings(an)
    assert found
    assert not CODE_NAME.findall(" ".join(found)), name  # no axis, effect or parameter
