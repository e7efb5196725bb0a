"""The students' explorer: a Solara page over one run of the KAM market.

Start it with ``kamabm app`` (or ``solara run kamabm.app.page``). The controls are generated
from :class:`~kamabm.model.params.Parameters` through :mod:`kamabm.app.labels` (plain labels
there; ranges, defaults and meanings from each field's spec). Moving one takes effect at
*Reset*, which builds a new market with :func:`kamabm.model.run.new_model`. The page shows what
capture looks like from inside the supplier: each KAM's alignment drifting (E8, E11), the
count of captured KAMs, the key-account price ratchet and margins (E9), the work turning
operational while activity stays high (E10) and the market itself.

Why not Mesa's ``SolaraViz``: it fixes a sidebar we could neither word nor group (Play
Interval, Render Interval and Use Threads unexplained, one flat list of sliders, the step
count from ``model.steps``), lays charts out in a draggable grid that shows only the
sidebar on a phone, and rebuilds the model by calling its class with the sliders as
keywords. This page is built from the same Solara components, takes its model from the
single door :func:`~kamabm.model.run.new_model`, and behaves alike on Mesa 3.3 and 3.5.

Drawing is the cost of a step (the model takes under a millisecond): each chart is a
small matplotlib figure at screen resolution whose axes, ticks and legend are drawn once
per run, its month-by-month data blitted over them (about 10 ms a chart, where drawing
it afresh took about 80); while playing, the charts are redrawn every *N* months, and
the next months wait until the page has drawn the last ones.

This module needs the optional extra (``pip install "kamabm[app]"``); nothing else in
the package imports it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

import solara

from kamabm.app.charts import CHARTS, ChartSpec, LiveChart
from kamabm.app.labels import (
    DEFAULT_SEED,
    GROUPS,
    MAX_SEED,
    SEED_HELP,
    SEED_LABEL,
    Control,
    controls,
)
from kamabm.model.market import KAMMarket
from kamabm.model.params import ParameterError, Parameters
from kamabm.model.run import new_model

#: Every control, by parameter name (labels and groups in :mod:`kamabm.app.labels`).
CONTROLS: dict[str, Control] = controls()
#: While playing, the next months wait until the page has drawn the last ones, at most
#: this long (a closed page draws nothing).
FRAME_WAIT_S = 5.0
#: Highest "redraw every N months" the page offers.
MAX_REDRAW_EVERY = 24
TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
TITLE = "KAM capture explorer: key account managers and their clients"
#: The seed's control (a run's seed is no parameter of the model).
SEED = Control("seed", SEED_LABEL, SEED_HELP, 0, MAX_SEED, 1, DEFAULT_SEED, 1.0, True)


def parameters(settings: dict[str, float]) -> tuple[Parameters, int]:
    """The parameters and seed of a run from the controls' positions (shown units)."""
    values = {name: CONTROLS[name].value(shown) for name, shown in settings.items()
              if name != "seed"}
    return Parameters().replace(**values), int(settings["seed"])


def default_settings() -> dict[str, float]:
    """The controls' positions at start: every parameter's default, and the first seed."""
    return {"seed": DEFAULT_SEED, **{name: c.default for name, c in CONTROLS.items()}}


# --- the page ----------------------------------------------------------------------------
CSS = """
.kamabm-page { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.kamabm-side { flex: 1 1 300px; max-width: 440px; min-width: 0; }
.kamabm-main { flex: 3 1 320px; min-width: 0; }
.kamabm-charts { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 440px), 1fr)); }
.kamabm-charts img { width: 100%; height: auto; }
.kamabm-chart-title { font-weight: bold; text-align: center; }
.kamabm-caption, .kamabm-help { font-size: 80%; color: #555; line-height: 1.3; }
.kamabm-control { margin-bottom: 6px; }
.kamabm-control .v-input__slot { margin-bottom: 0; }
.kamabm-control .v-input { margin-top: 0; padding-top: 0; }
.kamabm-control .v-messages { display: none; }
.kamabm-value { font-weight: bold; white-space: nowrap; }
.kamabm-label { display: flex; justify-content: space-between; gap: 8px; }
@media (max-width: 700px) { .kamabm-side { max-width: none; } }
"""


@solara.component
def SettingSlider(control: Control, value: float, on_value: Callable[[float], None]) -> None:
    """A labelled slider: plain label and value above it, its meaning under it.

    The value is text beside the label, not a bubble on the slider (bubbles covered the
    next label); the meaning is always shown, as hovering is impossible on a phone.
    """
    shown = control.text(control.value(value))
    with solara.Column(gap="0px", classes=["kamabm-control", f"kamabm-control-{control.name}"]):
        with solara.Row(classes=["kamabm-label"], gap="8px"):
            solara.Text(control.label)
            solara.Text(shown, classes=["kamabm-value"])
        if control.integer:  # whole numbers already: range, step and value
            solara.SliderInt("", value=int(value), on_value=on_value, min=int(control.low),
                             max=int(control.high), step=int(control.step), thumb_label=False)
        else:
            solara.SliderFloat("", value=value, on_value=on_value, min=control.low,
                               max=control.high, step=control.step, thumb_label=False)
        solara.Text(control.help, classes=["kamabm-help"])


@solara.component
def Settings(settings: solara.Reactive[dict[str, float]]) -> None:
    """The market's settings by group; changes wait for Reset."""

    def setter(name: str) -> Callable[[float], None]:
        return lambda value: settings.set({**settings.value, name: value})

    with solara.v.ExpansionPanels(multiple=True, v_model=[0], accordion=True):
        for group, names in GROUPS.items():
            with solara.v.ExpansionPanel():
                solara.v.ExpansionPanelHeader(children=[group])
                with solara.v.ExpansionPanelContent(eager=True):
                    for name in names:
                        SettingSlider(CONTROLS[name], settings.value[name], setter(name))
                    if group == "Advanced":
                        SettingSlider(SEED, settings.value["seed"], setter("seed"))


@solara.component
def RunControls(model: solara.Reactive[KAMMarket], tick: solara.Reactive[int],
                playing: solara.Reactive[bool], redraw_every: solara.Reactive[int],
                on_reset: Callable[[], None]) -> None:
    """Reset, play or pause, step one month, and how often charts are redrawn."""
    tick.value  # noqa: B018 (subscribe: the buttons' state follows each step)
    m = model.value
    finished = not m.running

    def step() -> None:
        m.step()
        tick.value += 1

    def redraw(months: float) -> None:
        redraw_every.set(int(months))  # an integer slider's value: whole months already

    with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
        solara.Button("Reset", color="primary", on_click=on_reset,
                      icon_name="mdi-restart")
        solara.Button("❚❚ Pause" if playing.value else "▶ Play", color="primary",
                      on_click=lambda: playing.set(not playing.value), disabled=finished)
        solara.Button("Step", color="primary", on_click=step,
                      disabled=playing.value or finished)
    SettingSlider(Control("redraw", "Redraw the charts every ... months while playing",
                          "1 shows every month; a higher number plays the run faster. "
                          "Step always moves one month.", 1, MAX_REDRAW_EVERY, 1, 1, 1.0,
                          True),
                  redraw_every.value, redraw)


@solara.component
def Status(model: solara.Reactive[KAMMarket], tick: solara.Reactive[int],
           pending: bool) -> None:
    """Month, captured KAMs, the live pressure, and the pending-change and finished cues."""
    tick.value  # noqa: B018 (subscribe: redrawn after each step)
    m = model.value
    horizon = m.params.horizon_months
    captured = sum(k.captured for k in m.kams)
    solara.Text(f"Month {m.month} of {horizon}: {captured} of {len(m.kams)} KAMs captured, "
                f"pressure now {m.kam_pressure:g}", classes=["kamabm-month"],
                style={"font-weight": "bold", "font-size": "110%"})
    if pending:
        solara.Warning("You changed a setting: press Reset to start a new run with it "
                       "(this run keeps its settings).", dense=True,
                       classes=["kamabm-pending"])
    if not m.running:
        how = (f"stopped at month {m.month}, steady state reached" if m.steady
               else f"all {horizon} months played")
        solara.Success(f"Run finished: {how}, {captured} of {len(m.kams)} KAMs captured. "
                       "Change a setting and press Reset for a new run.", dense=True,
                       classes=["kamabm-finished"])

    def set_pressure(value: float) -> None:
        m.kam_pressure = value
        tick.value += 1

    pressure = CONTROLS["kam_pressure"]
    SettingSlider(Control("pressure-now", "Sales pressure now, mid-run (no Reset needed)",
                          "Changes the running market from the next month on, to see "
                          "whether capture undoes itself (E11).", pressure.low, pressure.high,
                          pressure.step, pressure.default, 1.0, False),
                  m.kam_pressure, set_pressure)


@solara.component
def Chart(spec: ChartSpec, model: KAMMarket, month: int) -> None:
    """One chart: its frame drawn for each new run, its data when the month changes."""
    live = solara.use_memo(lambda: LiveChart(spec, model), [model])
    png = solara.use_memo(lambda: live.png(model), [live, month])
    with solara.Column(gap="2px", classes=[spec.css_class]):
        solara.Text(spec.title(model), classes=["kamabm-chart-title"])
        solara.Image(png, width="100%")
        solara.Text(spec.caption, classes=["kamabm-caption"])


class Frames:
    """Hand-over between the play thread and the page.

    The page is drawn in the server's thread, not in the one that steps the model; the
    play thread waits until the month it announced is drawn before it steps again, so a
    chart never reads a model that is being stepped, and every N-th month is shown.
    """

    def __init__(self) -> None:
        self._drawn = -1
        self._condition = threading.Condition()

    def drawn(self, tick: int) -> None:
        """The page has drawn the state announced as ``tick``."""
        with self._condition:
            self._drawn = max(self._drawn, tick)
            self._condition.notify_all()

    def wait(self, tick: int, timeout: float = FRAME_WAIT_S) -> bool:
        """Wait until the state announced as ``tick`` is drawn; whether it was."""
        with self._condition:
            return self._condition.wait_for(lambda: self._drawn >= tick, timeout)


@solara.component
def Charts(model: solara.Reactive[KAMMarket], tick: solara.Reactive[int],
           frames: Frames) -> None:
    """All charts of the run."""
    now = tick.value  # subscribe: redrawn after each step
    solara.use_effect(lambda: frames.drawn(now), [now])
    m = model.value
    with solara.Div(classes=["kamabm-charts"]):
        for spec in CHARTS:
            Chart(spec, m, m.month)


@solara.component
def Explorer() -> None:
    """The explorer; each browser session gets its own market."""
    # use_reactive follows its argument when that changes, so both start from one object.
    initial = solara.use_memo(default_settings, [])
    settings = solara.use_reactive(initial)
    applied = solara.use_reactive(initial)
    first = solara.use_memo(lambda: new_model(*parameters(initial)), [])
    # KAMMarket derives from mesa.Model, which mypy sees as Any: say what the value is.
    model: solara.Reactive[KAMMarket] = solara.use_reactive(first)
    tick = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    redraw_every = solara.use_reactive(1)
    error = solara.use_reactive("")
    frames = solara.use_memo(Frames, [])

    def reset() -> None:
        playing.set(False)
        try:
            params, seed = parameters(settings.value)
        except ParameterError as exc:
            error.set(str(exc))
            return
        error.set("")
        applied.set(settings.value)
        model.set(new_model(params, seed))

    def play(cancel: threading.Event) -> None:
        if not playing.value:
            return
        m = model.value
        horizon = m.params.horizon_months
        while not cancel.is_set() and playing.value and m.running:
            for _ in range(min(redraw_every.value, horizon - m.month)):
                m.step()
            tick.value += 1
            frames.wait(tick.value)
        if not cancel.is_set():
            playing.set(False)

    solara.use_thread(play, dependencies=[playing.value, model.value], intrusive_cancel=False)

    solara.Title(TITLE)
    solara.Style(CSS)
    with solara.Column(gap="8px"):
        with solara.Row(gap="16px", style={"flex-wrap": "wrap", "align-items": "baseline"}):
            solara.Text("Watch key account managers (KAMs) get captured by the big clients "
                        "they negotiate with: set the market, press Reset, then ▶ Play.")
            solara.HTML(tag="a", unsafe_innerHTML="Open the tutorial in a new tab",
                        attributes={"href": "/tutorial", "target": "_blank"},
                        classes=["kamabm-tutorial-link"])
        with solara.Div(classes=["kamabm-page"]):
            with solara.Div(classes=["kamabm-side"]):
                with solara.Card("Run", margin=0):
                    RunControls(model, tick, playing, redraw_every, reset)
                with solara.Card("Settings (press Reset to apply)", margin=0):
                    solara.Text("KAM: key account manager; SMB: small owner-run client; "
                                "KPI: what a KAM's bonus is paid on. The grey line under "
                                "each slider says what it means.",
                                classes=["kamabm-help"])
                    Settings(settings)
                    if error.value:
                        solara.Error(error.value)
            with solara.Div(classes=["kamabm-main"]):
                Status(model, tick, pending=settings.value != applied.value)
                Charts(model, tick, frames)


@solara.component
def Tutorial() -> None:
    """The students' tutorial (``docs/tutorial.md``), beside the explorer."""
    solara.Title(f"{TITLE}: tutorial")
    try:
        text = TUTORIAL.read_text(encoding="utf-8")
    except OSError:
        text = ("The tutorial is `docs/tutorial.md` in the kamabm repository "
                "(not found next to this installation).")
    # Pictures and links are relative to the docs folder, which this server does not
    # serve: drop the pictures, and name the linked files instead.
    text = "\n".join(line for line in text.splitlines() if not line.startswith("!["))
    text = re.sub(r"\[([^\]]+)\]\(([\w./-]+\.md)\)", r"\1 (`docs/\2`)", text)
    with solara.Column(style={"max-width": "860px", "margin": "0 auto"}):
        solara.Markdown(text)


#: Two pages; Solara's layout shows them as tabs ("Home" and "tutorial") in its app bar.
routes = [
    solara.Route(path="/", component=Explorer, label="Explorer"),
    solara.Route(path="tutorial", component=Tutorial, label="Tutorial"),
]
