"""The HTML report: a plain-words summary first, findings computed from the data, charts
embedded, tables that fit a 1,280 px window and print to A4 uncut, provenance folded away
at the end; and the optional slide deck, one chart a slide."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from conftest import plot_command
from plot_fixtures import interrupt

from kamabm.analysis.results import load
from kamabm.names import pct
from kamabm.report.summary import detailed_findings, executive_summary

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
