"""The HTML report: self-contained, findings computed from the data, and every figure
loads in a real browser (Debian's headless Chromium driven by Playwright)."""

from __future__ import annotations

import argparse
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from plot_fixtures import sweep

from kamabm.plot_cli import add_plot_parsers, run_plot_command
from kamabm.report import headline_findings, write_report
from kamabm.results import analyse, load

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    written = {}
    for name in ("smoke", "interventions"):
        results = sweep(root, name)
        path, charts = write_report(analyse(load(results), n_boot=60),
                                    results / "report.html")
        written[name] = (path, charts)
    return written


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.sources.append(dict(attrs)["src"])


def test_report_embeds_every_chart_and_fetches_nothing(reports):
    for path, charts in reports.values():
        text = path.read_text(encoding="utf-8")
        parser = _Images()
        parser.feed(text)
        assert len(parser.sources) == len(charts) >= 3
        assert all(s.startswith("data:image/svg+xml;base64,") for s in parser.sources)
        # nothing outside the file is needed to show it (CSV links are optional downloads)
        assert not re.search(r"""<(script|link)[^>]+(src|href)=""", text)


def test_report_states_findings_computed_from_the_results(reports):
    path, _ = reports["smoke"]
    res = load(path.parent)
    findings = headline_findings(analyse(res, n_boot=60, typical=False))
    assert findings
    text = path.read_text(encoding="utf-8")
    for sentence in findings:
        assert sentence.replace("'", "&#x27;") in text
    # the margin comparison quotes the actual mean margins of the two groups of points
    means = res.runs.groupby(["client_revenue_share", "kam_pressure"]).mean(numeric_only=True)
    high = means[means.capture_rate >= 0.5].supplier_margin.mean()
    if (means.capture_rate >= 0.5).any():
        assert f"{100 * high:.1f} %" in text


def test_intervention_report_lists_each_lever_against_the_status_quo(reports):
    text = reports["interventions"][0].read_text(encoding="utf-8")
    for lever in ("senior_support", "rotation_months", "training"):
        assert f"{lever} ({lever} = " in text
    assert "paired over 4 seeds" in text


def test_report_command_refuses_a_folder_without_results(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="kamabm")
    add_plot_parsers(parser.add_subparsers(dest="command", required=True))
    assert run_plot_command(parser.parse_args(["report", str(tmp_path)])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("kamabm report: error: ")


def test_report_command_refuses_a_folder_as_its_output_file(reports, tmp_path, capsys):
    results = reports["smoke"][0].parent
    parser = argparse.ArgumentParser(prog="kamabm")
    add_plot_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", str(results), "--out", str(tmp_path)])
    assert run_plot_command(args) == 2
    assert "is a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_report_renders_in_headless_chromium_with_every_image_loaded(reports):
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for path, charts in reports.values():
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
                assert page.locator("h2", has_text="Headline findings").count() == 1
                assert page.locator("li").count() >= 1
                assert outside == [] and errors == []
                page.close()
        finally:
            browser.close()
