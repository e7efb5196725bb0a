"""The students' explorer: its controls, its command, and the page in a real browser.

The browser tests start ``kamabm app`` on a free loopback port and drive Debian's headless
Chromium through Playwright: they move sliders, reset, step and play, and check the
charts, the layout and the comparison with a previous run. Tests that need the optional
``app`` extra (or the browser) skip without it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from kamabm.model.params import LEVER, Parameters

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
#: The page must be served this soon after the command starts (the issue's bound).
START_LIMIT_S = 10.0
#: Months stepped in the browser before charts are compared.
STEPS = 6


def _needs_the_app_extra() -> None:
    """Skip, saying why, when the ``app`` extra is absent (as ``kamabm app`` checks it)."""
    from kamabm.cli.app import missing_modules

    missing = missing_modules()
    if missing:
        pytest.skip(f"the app extra is not installed (no {', '.join(missing)})")


def _import_app():
    _needs_the_app_extra()
    pytest.importorskip("solara", reason="the app extra is not installed")
    import kamabm.app.page

    return kamabm.app.page


def _import_drawing():
    pytest.importorskip("PIL", reason="the app extra is not installed")
    import kamabm.app.charts

    return kamabm.app.charts


# --- without a browser ---------------------------------------------------------------
def test_importing_kamabm_and_its_app_command_does_not_import_the_web_stack():
    code = ("import sys, kamabm, kamabm.cli, kamabm.cli.app; "
            "print(sorted(m for m in ('solara', 'kamabm.app.page', 'altair') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    assert out.strip() == "[]"


def test_app_command_without_the_extra_says_how_to_install_it():
    # A stub that makes the extra look absent, whether or not it is installed.
    code = ("import importlib.util, sys; real = importlib.util.find_spec; "
            "importlib.util.find_spec = lambda n, *a: None if n == 'solara' else real(n, *a); "
            "from kamabm.cli import main; sys.exit(main(['app', '--port', '0']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert 'pip install "kamabm[app]"' in done.stderr


def test_every_control_reads_its_default_and_range_from_the_parameters():
    from kamabm.app.labels import GROUPS, controls

    shown = controls()
    levers = {n for n in Parameters.names() if Parameters.spec(n).group == LEVER}
    assert {"client_revenue_share", "kam_pressure", "buyer_detachment",
            "learning_ability"} | levers <= set(shown)
    assert GROUPS["Market"][:2] == ("client_revenue_share", "kam_pressure")
    assert set(GROUPS["Management levers"]) == levers
    for name, control in shown.items():
        spec = Parameters.spec(name)
        assert control.value(control.default) == Parameters.default(name), name
        assert spec.admits(control.value(control.low)), name
        assert spec.admits(control.value(control.high)), name
        assert control.integer is Parameters.is_integer(name), name
        # the default sits on the slider's grid, so the slider can show it exactly
        ticks = (control.default - control.low) / control.step
        assert abs(ticks - round(ticks)) < 1e-6, name
        assert "_" not in control.label, f"{name}: label in code words: {control.label}"
        assert spec.meaning[1:] in control.help and f"[{name}]" in control.help, name


#: The structural constants of the capture rules a student can set under Advanced.
KEY_CONSTANTS = ("theta", "employer_pull", "identification_gain", "peer_influence")


def test_key_structural_constants_have_sliders_under_advanced_made_from_their_spec():
    from kamabm.app.labels import GROUPS, control

    for name in KEY_CONSTANTS:
        assert name in GROUPS["Advanced"], name
        shown, spec = control(name), Parameters.spec(name)
        assert shown.value(shown.default) == Parameters.default(name), name
        assert (shown.value(shown.low), shown.value(shown.high)) == (spec.low, spec.high), name
        assert shown.label.lower().startswith(spec.label.lower()), name


def test_shares_are_shown_in_percent_and_given_to_the_model_as_fractions():
    from kamabm.app.labels import control

    share = control("client_revenue_share")
    assert share.label == "Key clients' share of turnover (%)"
    assert (share.low, share.high, share.step, share.default) == (1, 100, 1, 50)
    assert share.value(35) == 0.35
    assert share.text(0.35) == "35 %"
    pressure = control("kam_pressure")
    assert pressure.label == "Sales pressure on KAMs, 0 none to 1 maximum"
    assert pressure.value(0.8) == 0.8 and pressure.text(0.8) == "0.8"


def test_untouched_controls_give_the_default_parameters_and_seed():
    app = _import_app()
    assert app.parameters(app.default_settings()) == (Parameters(), 1)
    moved = {**app.default_settings(), "client_revenue_share": 80, "seed": 7}
    assert app.parameters(moved) == (Parameters(client_revenue_share=0.8), 7)


def test_the_settings_two_runs_differ_in_are_named_in_plain_words():
    app = _import_app()
    before = app.default_settings()
    after = {**before, "kam_pressure": 1.0, "client_revenue_share": 80, "seed": 7}
    assert app.setting_changes(before, after) == [
        "random seed was 1 (now 7)", "key clients' share of turnover was 50 % (now 80 %)",
        "sales pressure on KAMs was 0.5 (now 1)"]
    assert app.setting_changes(before, dict(before)) == []


def test_step_clicks_made_while_the_charts_are_drawn_add_up():
    app = _import_app()
    stepper = app.Stepper()
    for _ in range(3):
        stepper.ask()
    assert stepper.take(playing=lambda: False) == 3
    stepper.ask()
    stepper.forget()  # Reset or Play: clicks not yet stepped are dropped
    assert stepper.take(playing=lambda: True) == 0  # while playing, it returns at once
    stepper.drawn(4)
    assert stepper.wait_drawn(4, timeout=0.0) and not stepper.wait_drawn(5, timeout=0.0)
    stepper.close()  # a closed page frees the thread at once
    started = time.perf_counter()
    assert stepper.take(playing=lambda: False) == 0 and not stepper.wait_drawn(5)
    assert time.perf_counter() - started < 1.0


def _stepped(months: int, **values):
    from kamabm.model.run import new_model

    model = new_model(Parameters(**values), seed=1)
    for _ in range(months):
        model.step()
    return model


def _previous_run(months: int = 40):
    from kamabm.model.run import run_table

    return run_table(_stepped(months))


@pytest.mark.parametrize("with_previous", [False, True], ids=["alone", "with previous run"])
def test_every_chart_redrawn_on_its_frame_matches_a_chart_drawn_afresh(with_previous):
    drawing = _import_drawing()
    previous = _previous_run() if with_previous else None
    model = _stepped(30, kam_pressure=1.0)
    charts = [drawing.LiveChart(spec, model, previous) for spec in drawing.CHARTS]
    before = [chart.png(model) for chart in charts]
    for _ in range(3):
        model.step()
    for chart, old in zip(charts, before, strict=True):
        now = chart.png(model)
        assert now.startswith(b"\x89PNG") and now != old, chart.spec.css_class
        # a month's data leaves nothing behind on the frame it was drawn on
        assert now == drawing.chart_png(chart.spec, model, previous), chart.spec.css_class


def test_time_charts_show_a_previous_run_in_grey_dashes_named_in_their_legend():
    drawing = _import_drawing()
    from matplotlib.colors import to_rgb

    previous = _previous_run()
    model = _stepped(30, kam_pressure=1.0)
    for spec in drawing.CHARTS:
        alone, compared = (drawing.LiveChart(spec, model, p) for p in (None, previous))
        lines = [line for ax in compared.axes for line in ax.get_lines()
                 if line.get_gid() == "previous run"]
        legend = [t.get_text() for t in compared.axes[0].get_legend().texts]
        if spec.css_class == "kamabm-market":  # the market now has no time axis
            assert not lines and "previous run" not in legend
            assert compared.png(model) == alone.png(model)
            continue
        assert lines, spec.css_class
        assert all(line.get_linestyle() == "--" and to_rgb(line.get_color()) == to_rgb("grey")
                   for line in lines), spec.css_class
        assert legend[-1] == "previous run", spec.css_class
        assert compared.png(model) != alone.png(model), spec.css_class


def test_every_chart_shows_the_first_month_already():
    drawing = _import_drawing()
    model = _stepped(0)
    charts = [drawing.LiveChart(spec, model) for spec in drawing.CHARTS]
    empty = [chart.png(model) for chart in charts]
    model.step()
    for chart, before in zip(charts, empty, strict=True):
        if chart.spec.css_class != "kamabm-market":  # the market is drawn at month 0 too
            assert chart.png(model) != before, f"{chart.spec.css_class} is empty at month 1"


def test_captured_and_loyal_kams_differ_in_line_style_and_marker_not_only_in_colour():
    drawing = _import_drawing()
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    model = _stepped(60, kam_pressure=0.8, client_revenue_share=0.7)  # the tutorial market
    captured = sum(k.captured for k in model.kams)
    assert 0 < captured < len(model.kams), "the test needs both kinds of KAM"
    axes, _ = drawing.alignment_frame(Figure().add_subplot(), model)
    loyal, dashed = drawing.alignment_data(axes, model)[:2]
    assert len(loyal.get_segments()) + len(dashed.get_segments()) == len(model.kams)
    assert len(dashed.get_segments()) == captured
    assert loyal.get_linestyle() != dashed.get_linestyle()
    axes, _ = drawing.market_frame(Figure().add_subplot(), model)
    kams = {a.get_gid(): a for a in drawing.market_data(axes, model) if a.get_gid()}
    assert len(kams["captured KAMs"].get_offsets()) == captured
    loyal_marker, captured_marker = (kams[k].get_paths()[0].vertices
                                     for k in ("loyal KAMs", "captured KAMs"))
    assert loyal_marker.shape != captured_marker.shape  # circles and crosses
    assert to_rgb(drawing.ALIGNMENT_CMAP(0.0)) == to_rgb(drawing.CAPTURED)
    assert to_rgb(drawing.ALIGNMENT_CMAP(1.0)) == to_rgb(drawing.LOYAL)


#: A month's redraw of every chart must cost well under the issue's 0.3 s.
REDRAW_LIMIT_S = 0.15


def test_redrawing_every_chart_costs_well_under_a_third_of_a_second():
    drawing = _import_drawing()
    model = _stepped(0, kam_pressure=1.0)
    # with a previous run's lines too: they are drawn with the frame, not each month
    previous = _previous_run(60)
    charts = [drawing.LiveChart(spec, model, previous) for spec in drawing.CHARTS]
    costs = []
    while model.running:
        model.step()
        started = time.perf_counter()
        for chart in charts:
            chart.png(model)
        costs.append(time.perf_counter() - started)
    costs.sort()
    median = costs[len(costs) // 2]
    print(f"all charts, one month: median {1e3 * median:.0f} ms, max {1e3 * costs[-1]:.0f} ms")
    assert median < REDRAW_LIMIT_S


def test_app_on_a_busy_port_says_so_in_one_line_and_serves_nothing():
    _needs_the_app_extra()  # without it the command says how to install it, tested above
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "kamabm", "app", "--port", str(port)],
                              capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "serving" not in done.stderr
    assert f"cannot serve on 127.0.0.1:{port}" in done.stderr


# The tutorial's market: the key clients' share of turnover it asks students to set first
# (70 %, against the default 50 %), so that capture shows within the five years of a run.
TUTORIAL_MARKET = {"client_revenue_share": 0.7}
_T = TUTORIAL_MARKET
# The tutorial's promises, as docs/tutorial.md states them: (settings, seeds 1 to 5 ->
# captured KAMs at month 60, each within [low, high]). A change of the model that breaks
# one means the tutorial must be rewritten.
TUTORIAL_PROMISES = [
    ({"kam_pressure": 1.0}, 3, 9),                                # why 70 %: the default 50 %
    (_T, 0, 0),                                                   # experiment 1, step 1
    ({**_T, "kam_pressure": 0.8}, 2, 8),                          # step 2
    ({**_T, "kam_pressure": 1.0}, 8, 12),
    ({"kam_pressure": 0.8}, 0, 0),                                # try also: 50 %
    ({"kam_pressure": 0.8, "client_revenue_share": 0.9}, 7, 12),  # and 90 %
    ({**_T, "kam_pressure": 1.0, "buyer_detachment": 0.4}, 1, 8),  # experiment 2
    ({**_T, "kam_pressure": 1.0, "buyer_detachment": 0.2}, 0, 0),
    ({**_T, "kam_pressure": 1.0, "deal_review": 1.0}, 0, 0),      # experiment 3
    ({**_T, "kam_pressure": 1.0, "senior_support": 1.0}, 0, 0),
    ({**_T, "kam_pressure": 1.0, "rotation_months": 12}, 0, 0),
    ({**_T, "kam_pressure": 1.0, "kpi_margin_weight": 1.0}, 3, 12),
    ({**_T, "kam_pressure": 1.0, "training": 1.0}, 7, 12),
    ({**_T, "kam_pressure": 1.0, "learning_ability": 0.6}, 1, 10),  # try also
    ({**_T, "kam_pressure": 1.0, "learning_ability": 0.6, "training": 1.0}, 0, 3),
]


@pytest.mark.parametrize(("settings", "low", "high"), TUTORIAL_PROMISES,
                         ids=[",".join(f"{k}={v}" for k, v in c[0].items()) or "defaults"
                              for c in TUTORIAL_PROMISES])
def test_tutorial_promises_hold_on_the_current_model(settings, low, high):
    from kamabm.model.run import run_one

    captured = [round(12 * run_one(Parameters(**settings), seed)["capture_rate"])
                for seed in range(1, 6)]
    assert all(low <= c <= high for c in captured), captured


def test_tutorial_seed_1_numbers_and_margins_hold():
    import numpy as np

    from kamabm.model.run import new_model, run_one

    seeds = range(1, 6)
    shown = ("key_price", "supplier_margin", "kam_activity", "key_account_margin")

    def runs(**values):
        return [run_one(Parameters(**{**TUTORIAL_MARKET, **values}), seed, keep_series=shown)
                for seed in seeds]

    def count(result):
        return round(12 * result["capture_rate"])

    def percent(x):
        return round(100 * x)

    def first(results):
        return [r["time_to_first_capture"] for r in results]

    def fall_by(result, month):
        """How far the key-account price is below its start at ``month`` (a share)."""
        price = result["series"]["key_price"]
        start = price[-1] / (1.0 + result["key_price_change"])
        return 1.0 - price[month - 1] / start

    # Why the tutorial raises the key clients' share: at the default 50 %, full pressure
    # captures "three to nine", the first "between months 40 and 47".
    default_share = runs(client_revenue_share=Parameters.default("client_revenue_share"),
                         kam_pressure=1.0)
    assert [count(r) for r in default_share] == [9, 3, 7, 4, 5]
    assert (min(first(default_share)), max(first(default_share))) == (40, 47)
    # Experiment 1.
    calm, at_08, at_1 = runs(), runs(kam_pressure=0.8), runs(kam_pressure=1.0)
    assert (count(at_08[0]), first(at_08)[0]) == (2, 54)
    assert (count(at_1[0]), first(at_1)[0]) == (11, 31)
    assert (min(first(at_08)), max(first(at_08))) == (41, 54)     # "between months 41 and 54"
    assert (min(first(at_1)), max(first(at_1))) == (29, 35)       # "between months 29 and 35"
    for low, high in zip(calm, at_1, strict=True):                 # "alike ... by 7 to 8 %"
        assert 0.07 <= fall_by(low, 24) <= 0.08 and 0.07 <= fall_by(high, 24) <= 0.08
        assert abs(fall_by(high, 24) - fall_by(low, 24)) < 0.01
        assert percent(fall_by(low, 60)) == 8                        # "8 % ... at 0.5"
        assert percent(fall_by(high, 60)) in (13, 14)                # "13 to 14 %"
    calm_1, full_1 = calm[0], at_1[0]
    assert percent(-calm_1["key_price_change"]) == 8
    assert percent(-full_1["key_price_change"]) == 14                 # "14 % ... at 1"
    net = full_1["series"]["supplier_margin"]
    assert net[59] < net[35]                                          # "keeps falling"
    assert round(100 * full_1["margin_last_year"], 1) == -0.7        # "seed 1: -0.7 %"
    assert all(-0.02 < r["margin_last_year"] < 0.02 for r in at_1)   # "between -2 and 2 %"
    assert 0.055 < calm_1["margin_last_year"] < 0.07                  # "about 6 % at 0.5"
    for low, high in zip(calm, at_1, strict=True):                  # nobody works less
        work = [float(np.mean(r["series"]["kam_activity"][12:])) for r in (low, high)]
        assert all(1.0 <= w <= 1.2 for w in work) and work[1] >= work[0], work
    # Try also: the key clients' share at pressure 0.8.
    big = runs(kam_pressure=0.8, client_revenue_share=0.9)
    assert [count(r) for r in big] == [7, 11, 12, 12, 11]
    assert (min(first(big)), max(first(big))) == (29, 38)           # "between months 29 and 38"
    # Experiment 2.
    half = runs(kam_pressure=1.0, buyer_detachment=0.4)
    assert (count(half[0]), first(half)[0]) == (2, 51)
    assert [count(r) for r in half[1:]] == [5, 4, 8, 1]
    assert [count(r) for r in at_1[1:]] == [12, 8, 12, 12]
    later = [h - f for h, f in zip(first(half), first(at_1), strict=True)]
    assert all(10 <= months <= 22 for months in later), later        # "in every seed"
    owner = runs(kam_pressure=1.0, buyer_detachment=0.2)
    assert percent(-owner[0]["key_price_change"]) == 6                # "about 6 % ... 14 %"
    assert all(0.06 < -r["key_price_change"] < 0.07 for r in owner)  # "6 to 7 %"
    assert all(0.075 < r["margin_last_year"] < 0.085 for r in owner)  # "near 8 %"
    # Experiment 3 (seeds 1 to 5).
    reviewed = runs(kam_pressure=1.0, deal_review=1.0)
    assert all(0.15 < r["operational_share"] < 0.22 for r in reviewed)  # "about a fifth"
    assert all(r["operational_share"] > 0.5 for r in at_1)
    senior = runs(kam_pressure=1.0, senior_support=1.0)
    assert all(0.044 < -r["key_price_change"] < 0.047 for r in senior)  # "about 4.5 %"
    margin_kpi = runs(kam_pressure=1.0, kpi_margin_weight=1.0)
    assert [count(r) for r in margin_kpi] == [12, 12, 10, 11, 3]
    assert first(margin_kpi)[4] == 54
    assert all(20 <= percent(r["series"]["key_account_margin"][35]) <= 22 for r in margin_kpi)
    assert all(14 <= percent(r["series"]["key_account_margin"][35]) <= 17 for r in at_1)
    assert all(12 <= percent(r["series"]["key_account_margin"][59]) <= 14
               for r in margin_kpi[:4])
    assert percent(margin_kpi[4]["series"]["key_account_margin"][59]) == 19
    assert all(11 <= percent(r["series"]["key_account_margin"][59]) <= 12 for r in at_1)
    able = [count(r) for r in runs(kam_pressure=1.0, learning_ability=0.6)]
    trained = [count(r) for r in runs(kam_pressure=1.0, learning_ability=0.6, training=1.0)]
    assert (able, trained) == ([1, 8, 1, 10, 1], [0, 3, 2, 1, 0])  # "8 and 10 ... 3 and 1"
    # Going further: capture has memory.
    for seed, without_relief in zip(seeds, at_1, strict=True):
        model = new_model(Parameters(**TUTORIAL_MARKET, kam_pressure=1.0,
                                     pressure_change_month=36, pressure_after_change=0.0),
                          seed).run()
        captured = model.trace.captured
        at_36, at_60 = captured[35], captured[59]
        assert captured[36:].min() >= at_36                # the count does not fall
        assert at_36 < at_60 < count(without_relief), (seed, at_36, at_60)  # more; fewer
        if seed == 1:                                      # "five ... eight (eleven without)"
            assert (at_36, at_60, count(without_relief)) == (5, 8, 11)
        early = new_model(Parameters(**TUTORIAL_MARKET, kam_pressure=1.0,
                                     pressure_change_month=24, pressure_after_change=0.0),
                          seed).run().trace.captured
        assert early[23] == 0 and early[59] <= 2           # "at most two by month 60"
    long = new_model(Parameters(**TUTORIAL_MARKET, kam_pressure=1.0, horizon_months=180,
                                pressure_change_month=36, pressure_after_change=0.0),
                     seed=1).run().trace.captured
    assert len(long) == 180 and long[-1] == long.max() == 9  # "nine ... at month 180"


# --- in the browser ------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served_app() -> Iterator[tuple[str, float]]:
    """The app served by ``kamabm app --port N``: its URL and how long it took to serve."""
    _import_app()
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "kamabm", "app", "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        served = None
        while time.perf_counter() - started < 60 and server.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200 and b"solara" in response.read():
                        served = time.perf_counter() - started
                        break
            except OSError:
                time.sleep(0.1)
        if served is None:
            server.kill()
            pytest.fail(f"the app did not serve {url}: {server.communicate()[1][-2000:]}")
        yield url, served
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="module")
def browser(served_app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_app_serves_its_page_in_under_ten_seconds(served_app):
    _, seconds = served_app
    print(f"app served its page {seconds:.1f} s after start")
    assert seconds < START_LIMIT_S


def _open(browser, url: str, **kwargs):
    page = browser.new_page(**kwargs)
    page.goto(url)
    page.wait_for_selector(".kamabm-alignment img", timeout=30_000)
    return page


def _month_is(page, month: int) -> None:
    page.wait_for_function(
        f"document.querySelector('.kamabm-month')?.textContent.startsWith('Month {month} ')",
        timeout=30_000)


def _step(page, months: int, until: int | None = None) -> None:
    for _ in range(months):
        page.get_by_role("button", name="Step").click()
    _month_is(page, months if until is None else until)


def _reset(page) -> None:
    page.get_by_role("button", name="Reset").click()
    _month_is(page, 0)
    # The month's text and the finished cue reach the browser as separate updates: a Play
    # pressed while the last run's cue is still shown would be measured as already over.
    page.wait_for_selector(".kamabm-finished", state="detached", timeout=30_000)


def _chart(page, name: str) -> bytes:
    return page.locator(f".kamabm-{name} img").screenshot()


def _press(page, control: str, *keys: str) -> None:
    """Move a control's slider with the keyboard, as a student could."""
    page.locator(f".kamabm-control-{control} .v-slider__thumb-container").focus()
    for key in keys:
        page.keyboard.press(key)


def _status(page) -> str:
    return page.locator(".kamabm-month").text_content()


def test_page_speaks_plain_words_and_hides_mesa_internals(served_app, browser):
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 1400, "height": 1000})
    assert page.title().startswith("KAM capture explorer")
    text = page.locator("body").inner_text()
    for label in ("Key clients' share of turnover (%)",
                  "Sales pressure on KAMs, 0 none to 1 maximum",
                  "Redraw the charts every ... months while playing"):
        assert label in text
    assert text.index("Key clients' share") < text.index("Sales pressure on KAMs") < \
        text.index("Buyers' detachment")
    for internal in ("Play Interval", "Render Interval", "Use Threads", "Page 0", "(index)"):
        assert internal not in text
    assert page.locator("a.kamabm-tutorial-link").get_attribute("href") == "/tutorial"
    page.goto(url + "tutorial")
    page.get_by_text("Experiment 1: raise the pressure").wait_for(timeout=30_000)
    assert page.title().endswith("tutorial")
    page.close()


def test_the_browser_tab_names_the_app_from_the_first_load(served_app, browser):
    url, _ = served_app
    app = _import_app()
    with urllib.request.urlopen(url, timeout=10) as response:
        html = response.read().decode()
    assert f"<title>{app.TITLE}</title>" in html  # what the tab shows before the app runs
    page = browser.new_page()
    page.goto(url, wait_until="domcontentloaded")
    assert page.title() == app.TITLE
    page.wait_for_selector(".kamabm-alignment img", timeout=30_000)
    assert page.title() == app.TITLE
    page.close()


def test_wide_screen_shows_alignment_and_price_side_by_side_above_the_fold(served_app,
                                                                          browser):
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 1280, "height": 800})
    columns = page.evaluate("getComputedStyle(document.querySelector('.kamabm-charts'))"
                            ".gridTemplateColumns.split(' ').length")
    assert columns == 2
    alignment, price = (page.locator(f".kamabm-{name} img").bounding_box()
                        for name in ("alignment", "price"))
    assert abs(alignment["y"] - price["y"]) < 1  # one row
    assert price["x"] >= alignment["x"] + alignment["width"]  # side by side
    assert min(alignment["width"], price["width"]) >= 360
    assert max(alignment["y"] + alignment["height"], price["y"] + price["height"]) <= 800
    page.close()


def test_narrow_screen_shows_controls_and_charts_in_one_readable_column(served_app, browser):
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 390, "height": 844})
    width = page.evaluate("document.querySelector('.kamabm-page').scrollWidth")
    assert width <= 390
    chart = page.locator(".kamabm-alignment img").bounding_box()
    assert chart["width"] > 300  # one chart a row, not squeezed beside the controls
    page.close()


def test_moving_a_slider_asks_for_reset_and_then_changes_the_charts(served_app, browser,
                                                                    tmp_path):
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 1500, "height": 1100})
    _month_is(page, 0)
    empty = _chart(page, "price")

    _step(page, STEPS)
    default_run = {name: _chart(page, name) for name in ("price", "alignment")}
    assert default_run["price"] != empty, "stepping did not redraw the price chart"

    # Same parameters and seed again: the same picture (so a difference below is the slider's).
    _reset(page)
    _step(page, STEPS)
    assert _chart(page, "price") == default_run["price"]

    _press(page, "kam_pressure", "End")
    page.wait_for_selector(".kamabm-pending", timeout=10_000)
    _reset(page)
    page.wait_for_selector(".kamabm-pending", state="detached", timeout=10_000)
    assert _status(page).endswith("pressure now 1")
    _step(page, STEPS)
    pressed = {name: _chart(page, name) for name in ("price", "alignment")}
    assert pressed["price"] != default_run["price"]
    assert pressed["alignment"] != default_run["alignment"]

    # Another browser session gets a model of its own, not this one mid-run.
    other = _open(browser, url)
    _month_is(other, 0)
    other.close()

    shot = tmp_path / "app.png"
    page.screenshot(path=shot)
    assert shot.stat().st_size > 10_000
    if os.environ.get("KAMABM_UPDATE_SCREENSHOT"):
        # Refreshes the README's picture on request (a plain test run never edits the
        # tree), at a month where capture shows.
        _step(page, 40 - STEPS, until=40)
        page.screenshot(path=shot)
        shutil.copyfile(shot, ROOT / "docs" / "img" / "app.png")
    page.close()


def _open_groups(page) -> list[str]:
    return page.locator(".v-expansion-panel--active .v-expansion-panel-header") \
        .all_text_contents()


def _toggle_group(page, group: str) -> None:
    page.locator(".v-expansion-panel-header", has_text=group).click()


def test_settings_groups_open_and_stay_open_independently(served_app, browser):
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 1280, "height": 800})
    assert [g.strip() for g in _open_groups(page)] == ["Market"]
    _toggle_group(page, "Advanced")
    _toggle_group(page, "Management levers")
    every = ["Market", "Management levers", "Advanced"]
    page.wait_for_function(f"document.querySelectorAll('.v-expansion-panel--active')"
                           f".length == {len(every)}", timeout=10_000)
    # moving a slider redraws the settings: every group stays as it was left
    _press(page, "horizon_months", "ArrowRight")
    page.wait_for_selector(".kamabm-pending", timeout=10_000)
    _reset(page)
    assert [g.strip() for g in _open_groups(page)] == every
    _toggle_group(page, "Market")
    page.wait_for_function("document.querySelectorAll('.v-expansion-panel--active')"
                           ".length == 2", timeout=10_000)
    _press(page, "horizon_months", "ArrowLeft")
    page.wait_for_selector(".kamabm-pending", timeout=10_000)
    assert [g.strip() for g in _open_groups(page)] == every[1:]
    page.close()


def test_key_structural_constants_are_sliders_at_their_defaults_under_advanced(served_app,
                                                                               browser):
    url, _ = served_app
    app = _import_app()
    page = _open(browser, url, viewport={"width": 1280, "height": 800})
    _toggle_group(page, "Advanced")
    for name in KEY_CONSTANTS:
        control = app.CONTROLS[name]
        box = page.locator(f".kamabm-control-{name}")
        box.wait_for(state="visible", timeout=10_000)
        assert control.label in box.text_content(), name
        shown = control.text(Parameters.default(name))
        assert box.locator(".kamabm-value").text_content() == shown, name
        slider = box.locator("[role=slider]")
        assert float(slider.get_attribute("aria-valuenow")) == control.default, name
        assert float(slider.get_attribute("aria-valuemax")) == control.high, name
    # and a moved one reaches the model: the run at the lowest threshold differs
    _step(page, STEPS)
    default_run = _chart(page, "alignment")
    _press(page, "theta", "Home")
    _reset(page)
    _step(page, STEPS)
    assert _chart(page, "alignment") != default_run
    page.close()


def test_reset_with_another_setting_keeps_the_previous_run_for_comparison(served_app,
                                                                         browser):
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 1280, "height": 800})
    _step(page, STEPS)
    _reset(page)  # the same settings again: nothing to compare
    assert page.locator(".kamabm-previous").count() == 0
    _step(page, STEPS)
    _press(page, "kam_pressure", "End")
    _reset(page)
    note = page.locator(".kamabm-previous")
    note.wait_for(timeout=10_000)
    assert "previous run, in which sales pressure on KAMs was 0.5 (now 1)" in note.inner_text()
    _step(page, STEPS)
    compared = {name: _chart(page, name) for name in ("alignment", "price", "market")}
    _reset(page)  # this run again, the same settings: the comparison stays
    note.wait_for(timeout=10_000)
    _step(page, STEPS)
    assert _chart(page, "price") == compared["price"]
    page.get_by_role("button", name="Clear the previous run").click()
    note.wait_for(state="detached", timeout=10_000)
    alone = {name: _chart(page, name) for name in ("alignment", "price", "market")}
    assert alone["alignment"] != compared["alignment"]
    assert alone["price"] != compared["price"]
    assert alone["market"] == compared["market"]  # the market now: no time, no comparison
    page.close()


#: Clicks in a burst on Step, and the most months the page may show on the way to the
#: last (one drawing per click would show every one of them).
CLICKS = 20
MONTHS_SHOWN_ON_THE_WAY = 10


def test_rapid_step_clicks_each_advance_one_month_and_are_drawn_together(served_app,
                                                                         browser):
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 1280, "height": 800})
    _month_is(page, 0)
    # Every month the status line shows, as the page shows it.
    page.evaluate("""() => {
        window.monthsShown = new Set();
        new MutationObserver(() => {
            const status = document.querySelector('.kamabm-month');
            if (status) window.monthsShown.add(status.textContent.split(' ')[1]);
        }).observe(document.querySelector('.kamabm-main'),
                   {subtree: true, childList: true, characterData: true});
    }""")
    box = page.get_by_role("button", name="Step").bounding_box()
    started = time.perf_counter()
    for _ in range(CLICKS):  # as fast as a mouse can click, not waiting for the page
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    _month_is(page, CLICKS)
    print(f"{CLICKS} clicks on Step drawn {time.perf_counter() - started:.1f} s after the first")
    time.sleep(1.0)
    assert _status(page).startswith(f"Month {CLICKS} of ")  # and not one month more
    shown = page.evaluate("[...window.monthsShown]")
    print(f"months shown on the way: {shown}")
    assert len(shown) <= MONTHS_SHOWN_ON_THE_WAY
    page.close()


#: The issue's bound on playing a whole run in the browser, at any redraw interval.
PLAY_LIMIT_S = 15.0


def _play_to_the_end(page) -> float:
    started = time.perf_counter()
    page.get_by_role("button", name="Play").click()
    page.wait_for_selector(".kamabm-finished", timeout=1000 * 3 * PLAY_LIMIT_S)
    return time.perf_counter() - started


def test_tutorial_experiment_1_plays_to_the_end_in_under_15_s_at_any_redraw_interval(
        served_app, browser):
    """Experiment 1 of docs/tutorial.md, as a student runs it, with what it promises."""
    url, _ = served_app
    page = _open(browser, url, viewport={"width": 1400, "height": 1000})
    # Step 1: key clients' share from 50 to 70 %, every month drawn: nobody is captured.
    share = round(100 * TUTORIAL_MARKET["client_revenue_share"])
    _press(page, "client_revenue_share", *["ArrowRight"] * (share - 50))
    _reset(page)
    seconds = _play_to_the_end(page)
    print(f"60 months drawn every month: {seconds:.1f} s")
    assert seconds < PLAY_LIMIT_S
    assert _status(page).startswith("Month 60 of 60: 0 of 12 KAMs captured")
    assert "Run finished" in page.locator(".kamabm-finished").inner_text()
    assert page.get_by_role("button", name="Step").is_disabled()

    # Step 2: full pressure, the charts redrawn every 7 months (7 does not divide 60).
    _press(page, "redraw", *["ArrowRight"] * 6)
    _press(page, "kam_pressure", "End")
    _reset(page)
    seconds = _play_to_the_end(page)
    print(f"60 months drawn every 7: {seconds:.1f} s")
    assert seconds < PLAY_LIMIT_S
    status = _status(page)
    assert status.startswith("Month 60 of 60: ")
    captured = int(status.split(": ")[1].split(" of ")[0])
    assert captured >= 8, f"the tutorial promises most or nearly all captured at 1.0: {status}"
    from kamabm.model.run import run_one

    expected = run_one(Parameters(**TUTORIAL_MARKET, kam_pressure=1.0), seed=1)["capture_rate"]
    assert captured == round(12 * expected), "the app ran another model than run_one"
    page.close()


def test_ctrl_c_stops_the_app_with_one_line_and_status_0():
    _import_app()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "kamabm", "app", "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert server.returncode == 0
    assert err.splitlines() == [
        f"kamabm: serving the explorer on http://127.0.0.1:{port}/ (Ctrl-C stops it)",
        "kamabm: explorer stopped"]
