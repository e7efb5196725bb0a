"""The students' explorer: a Solara page over one run of the KAM market.

Start it with ``kamabm app`` (or ``solara run kamabm.app.page``). The controls are generated
from :class:`~kamabm.model.params.Parameters` through :mod:`kamabm.app.labels` (plain labels
there; ranges, defaults and meanings from each field's spec). Moving one takes effect at
*Reset*, which builds a new market with :func:`kamabm.model.run.new_model`. The page shows what
capture looks like from inside the supplier: each KAM's alignment drifting (E8, E11), the
key-account price ratchet and margins (E9), the count of captured KAMs, the work turning
operational while activity stays high (E10) and the market itself. After a Reset with
other settings, the time charts keep the run before faintly for comparison.

Why not Mesa's ``SolaraViz``: it fixes a sidebar we could neither word nor group (Play
Interval, Render Interval and Use Threads unexplained, one flat list of sliders, the step
count from ``model.steps``), lays charts out in a draggable grid that shows only the
sidebar on a phone, and rebuilds the model by calling its class with the sliders as
keywords. This page is built from the same Solara components, takes its model from the
single door :func:`~kamabm.model.run.new_model`, and behaves alike on Mesa 3.3 and 3.5.

Drawing is the cost of a step (the model takes under a millisecond): each chart is a
small matplotlib figure at screen resolution whose axes, ticks and legend are drawn once
per run, its month-by-month data blitted over them (about 10 ms a chart, where drawing
it afresh took about 80). One thread steps the model: the Step button and Play only ask
it (see :class:`Stepper`), so clicks made while the charts are drawn add up instead of
each waiting for its own drawing; while playing, the charts are redrawn every *N*
months, and the next months wait until the page has drawn the last ones.

This module needs the optional extra (``pip install "kamabm[app]"``); nothing else in
the package imports it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import solara
from solara.server import settings as server_settings

from kamabm.app.charts import CHARTS, ChartSpec, LiveChart, RunTable
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
from kamabm.model.run import new_model, run_table
from kamabm.names import human

#: Every control, by parameter name (labels and groups in :mod:`kamabm.app.labels`).
CONTROLS: dict[str, Control] = controls()
#: The next months (played or stepped) wait until the page has drawn the last ones, at
#: most this long (a page whose browser went away draws nothing).
FRAME_WAIT_S = 5.0
#: Highest "redraw every N months" the page offers.
MAX_REDRAW_EVERY = 24
TUTORIAL = Path(__file__).resolve().parents[2] / "docs" / "tutorial.md"
TITLE = "KAM capture explorer: key account managers and their clients"
# The served page's <title>, which the browser's tab shows until the page sets its own
# (solara.Title); Solara's theme setting, the one SOLARA_THEME_TITLE sets. Solara loads
# this module before it serves the first page.
server_settings.theme.title = TITLE
#: The seed's control (a run's seed is no parameter of the model).
SEED = Control("seed", SEED_LABEL, SEED_HELP, 0, MAX_SEED, 1, DEFAULT_SEED, 1.0, True)
#: The seed in a sentence.
SEED_WORDS = "random seed"


def parameters(settings: dict[str, float]) -> tuple[Parameters, int]:
    """The parameters and seed of a run from the controls' positions (shown units)."""
    values = {name: CONTROLS[name].value(shown) for name, shown in settings.items()
              if name != "seed"}
    return Parameters().replace(**values), int(settings["seed"])


def default_settings() -> dict[str, float]:
    """The controls' positions at start: every parameter's default, and the first seed."""
    return {"seed": DEFAULT_SEED, **{name: c.default for name, c in CONTROLS.items()}}


def setting_changes(before: dict[str, float], after: dict[str, float]) -> list[str]:
    """The settings that differ, in plain words: ``sales pressure on KAMs was 0.5 (now 1)``.

    ``before`` and ``after`` are controls' positions (shown units), as
    :func:`default_settings` gives them; the order is the controls' order.
    """
    changes = []
    for name, old in before.items():
        if after[name] != old:
            control, words = (SEED, SEED_WORDS) if name == "seed" else (CONTROLS[name],
                                                                         human(name))
            changes.append(f"{words} was {control.text(control.value(old))} "
                           f"(now {control.text(control.value(after[name]))})")
    return changes


@dataclass(frozen=True, eq=False)
class PreviousRun:
    """A run kept for comparison: its month-by-month table and the settings it ran with.

    Compared by identity: the charts redraw their frames when another run is kept.
    """

    table: RunTable
    settings: dict[str, float]


# --- the page ----------------------------------------------------------------------------
CSS = """
.kamabm-page { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.kamabm-side { flex: 1 1 300px; max-width: 440px; min-width: 0; }
.kamabm-main { flex: 3 1 320px; min-width: 0; }
/* As many columns of at least 360 px as fit: one on a phone, two from 1,280 px on,
   three on a 1,920 px screen. */
.kamabm-charts { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 360px), 1fr)); }
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
    """The market's settings by group, each opened on its own; changes wait for Reset."""
    # Which groups are open (by position; Market at first) is state of its own, so that
    # redrawing the settings after a slider moves keeps every group as the student left it.
    open_groups = solara.use_reactive([0])

    def setter(name: str) -> Callable[[float], None]:
        return lambda value: settings.set({**settings.value, name: value})

    with solara.v.ExpansionPanels(multiple=True, v_model=open_groups.value,
                                  on_v_model=open_groups.set, accordion=True):
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
                stepper: Stepper, on_reset: Callable[[], None]) -> None:
    """Reset, play or pause, step one month, and how often charts are redrawn."""
    tick.value  # noqa: B018 (subscribe: the buttons' state follows each step)
    finished = not model.value.running

    def play_or_pause() -> None:
        stepper.forget()  # Step clicks not yet stepped: Play takes over, Pause stops
        playing.set(not playing.value)
        stepper.wake()

    def redraw(months: float) -> None:
        redraw_every.set(int(months))  # an integer slider's value: whole months already

    with solara.Row(gap="8px", style={"flex-wrap": "wrap"}):
        solara.Button("Reset", color="primary", on_click=on_reset,
                      icon_name="mdi-restart")
        solara.Button("❚❚ Pause" if playing.value else "▶ Play", color="primary",
                      on_click=play_or_pause, disabled=finished)
        solara.Button("Step", color="primary", on_click=stepper.ask,
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
def Chart(spec: ChartSpec, model: KAMMarket, month: int, previous: PreviousRun | None) -> None:
    """One chart: its frame drawn for each run (and previous run), its data each month."""
    table = None if previous is None else previous.table
    live = solara.use_memo(lambda: LiveChart(spec, model, table), [model, previous])
    png = solara.use_memo(lambda: live.png(model), [live, month])
    with solara.Column(gap="2px", classes=[spec.css_class]):
        solara.Text(spec.title(model), classes=["kamabm-chart-title"])
        solara.Image(png, width="100%")
        solara.Text(spec.caption, classes=["kamabm-caption"])


class Stepper:
    """Hand-over between the page and the one thread that steps its model.

    The page only asks: each click on Step asks one month more (clicks made while the
    charts are drawn add up, none is lost), and Play wakes the thread. The thread
    steps the model, announces the state it wants drawn and waits until the page has
    drawn it before it steps again: so a chart never reads a model being stepped, and
    months asked by a burst of clicks are drawn once.
    """

    def __init__(self) -> None:
        self._asked = 0
        self._drawn = -1
        self._closed = False
        self._condition = threading.Condition()
        #: Held while the thread steps the model; what reads the model outside a drawing
        #: (Reset keeping the run it leaves) takes it too.
        self.stepping = threading.Lock()

    def ask(self) -> None:
        """Step one month more (a click on Step)."""
        with self._condition:
            self._asked += 1
            self._condition.notify_all()

    def forget(self) -> None:
        """Drop the months asked and not yet stepped (Reset, Play, Pause)."""
        with self._condition:
            self._asked = 0

    def wake(self) -> None:
        """Have the thread look again at what to do (Play pressed)."""
        with self._condition:
            self._condition.notify_all()

    def close(self) -> None:
        """The page is gone: the thread stops."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()

    @property
    def closed(self) -> bool:
        """Whether the page is gone."""
        return self._closed

    def take(self, playing: Callable[[], bool]) -> int:
        """Wait for something to do; the months asked since the last call (0 if none).

        Waits until a month is asked, ``playing()`` is true or the page is gone.
        """
        with self._condition:
            self._condition.wait_for(lambda: self._closed or self._asked > 0 or playing())
            asked, self._asked = self._asked, 0
            return asked

    def drawn(self, tick: int) -> None:
        """The page has drawn the state announced as ``tick``."""
        with self._condition:
            self._drawn = max(self._drawn, tick)
            self._condition.notify_all()

    def wait_drawn(self, tick: int, timeout: float = FRAME_WAIT_S) -> bool:
        """Wait until the state announced as ``tick`` is drawn; whether it was.

        Returns early, with ``False``, if the page is gone.
        """
        with self._condition:
            return self._condition.wait_for(lambda: self._closed or self._drawn >= tick,
                                            timeout) and self._drawn >= tick


@solara.component
def Comparison(previous: solara.Reactive[PreviousRun | None],
               applied: dict[str, float]) -> None:
    """What the grey dashes are: the previous run and which settings differed; a clear button."""
    if previous.value is None:
        return
    changes = " and ".join(setting_changes(previous.value.settings, applied))
    with solara.Row(gap="8px", classes=["kamabm-previous"],
                    style={"flex-wrap": "wrap", "align-items": "center"}):
        solara.Text(f"Grey dashes: the previous run, in which {changes}.",
                    classes=["kamabm-caption"])
        solara.Button("Clear the previous run", on_click=lambda: previous.set(None),
                      text=True, small=True, icon_name="mdi-close")


@solara.component
def Charts(model: solara.Reactive[KAMMarket], tick: solara.Reactive[int],
           previous: PreviousRun | None, stepper: Stepper) -> None:
    """All charts of the run, with the previous run's lines if one is kept."""
    now = tick.value  # subscribe: redrawn after each step
    solara.use_effect(lambda: stepper.drawn(now), [now])
    m = model.value
    with solara.Div(classes=["kamabm-charts"]):
        for spec in CHARTS:
            Chart(spec, m, m.month, previous)


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
    previous: solara.Reactive[PreviousRun | None] = solara.use_reactive(None)
    tick = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    redraw_every = solara.use_reactive(1)
    error = solara.use_reactive("")
    stepper = solara.use_memo(Stepper, [])

    def reset() -> None:
        """A new run from the settings; the run left is kept for comparison.

        The run left becomes the previous run if it ran a month or more and its settings
        differ; a previous run with the new settings is dropped (it would compare a run
        with itself).
        """
        playing.set(False)
        stepper.forget()
        try:
            params, seed = parameters(settings.value)
        except ParameterError as exc:
            error.set(str(exc))
            return
        error.set("")
        if settings.value != applied.value and model.value.month > 0:
            with stepper.stepping:  # a Reset while playing: not a month half stepped
                table = run_table(model.value)
            previous.set(PreviousRun(table, applied.value))
        elif previous.value is not None and previous.value.settings == settings.value:
            previous.set(None)
        applied.set(settings.value)
        model.set(new_model(params, seed))

    def advance() -> None:
        """The thread that steps the model: the months Step asked, or on while playing."""
        while not stepper.closed:
            asked = stepper.take(lambda: playing.value)
            m = model.value
            months = redraw_every.value if playing.value else asked
            stepped = 0
            with stepper.stepping:
                while stepped < months and m.running:
                    m.step()
                    stepped += 1
            if stepped:
                tick.value += 1
                stepper.wait_drawn(tick.value)
            if not m.running and m is model.value:
                playing.set(False)  # this run is over (not one a Reset replaced meanwhile)

    # Not intrusive: an intrusive cancel traces every line the thread runs, model included.
    solara.use_thread(advance, dependencies=[], intrusive_cancel=False)
    solara.use_effect(lambda: stepper.close, [])  # its cleanup, as the page goes, stops it

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
                    RunControls(model, tick, playing, redraw_every, stepper, reset)
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
                Comparison(previous, applied.value)
                Charts(model, tick, previous.value, stepper)


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
