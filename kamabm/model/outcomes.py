"""What one run measures: each outcome's meaning, plain label and unit.

:func:`kamabm.model.run.run_one` returns one value for every name in :data:`OUTCOMES`;
charts, report tables and the ODD's outcome table name them by the :class:`Outcome`
here. This module needs no Mesa, so the words can be read without importing the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from kamabm.model.params import CAPTURED_BELOW, FIVE_YEARS, LAST_YEAR


@dataclass(frozen=True)
class Outcome:
    """One outcome of a run: what it measures, and how a reader is told it.

    Attributes:
        meaning: one line on what is measured, and over which months.
        label: plain words for axes, table headers and sentences: short, lower case
            unless a name, never the code name.
        unit: the unit of its values; a share (``share of KAMs``) is shown in percent
            (``% of KAMs``).

    """

    meaning: str
    label: str
    unit: str


#: Alignment thresholds at which capture is also reported, so that no claim hangs on
#: :data:`~kamabm.model.params.CAPTURED_BELOW` alone.
CAPTURE_THRESHOLDS = (0.3, 0.4, 0.6, 0.7)

_LAST = f"over the last {LAST_YEAR} months"

#: Outcomes of one run (model guide section 4), by the name ``run_one`` returns them under.
OUTCOMES: dict[str, Outcome] = {
    "capture_rate": Outcome(
        f"share of KAMs captured (alignment < {CAPTURED_BELOW:g}) at the end",
        "KAMs captured", "share of KAMs"),
    "capture_rate_5y": Outcome(
        f"share of KAMs captured at month {FIVE_YEARS} (the end, if the run is shorter)",
        "KAMs captured after five years", "share of KAMs"),
    "captured_months": Outcome(
        "share of KAM-months spent captured over the run", "time spent captured",
        "share of KAM-months"),
    **{f"capture_rate_t{round(100 * t)}": Outcome(
        f"share of KAMs with alignment below {t:g} at the end",
        f"KAMs with alignment below {t:g}", "share of KAMs") for t in CAPTURE_THRESHOLDS},
    "co_capture_supplier": Outcome(
        "chance that two KAMs of the same supplier (on different buyers) are both captured, "
        "less that of two KAMs sharing neither supplier nor buyer",
        "co-capture among colleagues", "difference of chances"),
    "capture_rivals_first_buyer": Outcome(
        "share of the rival suppliers' KAMs on the first buyer captured at the end (the "
        "pinned KAM's buyer under pin_first_kam)", "rivals' KAMs captured on the first buyer",
        "share of rival KAMs"),
    "capture_rivals_other_buyers": Outcome(
        "share of the rival suppliers' KAMs on the other buyers captured at the end (no tie "
        "to a pinned KAM but their market)", "rivals' KAMs captured on the other buyers",
        "share of rival KAMs"),
    "co_capture_buyer": Outcome(
        "chance that two KAMs on the same buyer (at rival suppliers) are both captured, less "
        "that of two KAMs sharing neither", "co-capture on one key client",
        "difference of chances"),
    "months_run": Outcome(
        "months simulated (fewer than the horizon when a steady state stops the run)",
        "months simulated", "months"),
    "steady_state": Outcome(
        "1 if the run stopped at a steady state, else 0", "stopped at a steady state",
        "switch"),
    "time_to_first_capture": Outcome(
        "month in which a KAM was first captured (None if none was)",
        "month of the first capture", "month"),
    "key_account_margin": Outcome(
        f"gross margin on key accounts {_LAST}", "key-account gross margin",
        "share of key revenue"),
    "gross_margin": Outcome(
        "suppliers' gross margin (revenue less production cost, key accounts and SMB "
        f"clients together) {_LAST}", "suppliers' gross margin", "share of revenue"),
    "key_account_share": Outcome(
        f"key accounts' share of the suppliers' revenue {_LAST}",
        "key accounts' share of revenue", "share of revenue"),
    "supplier_margin": Outcome(
        "net margin of all suppliers over the horizon, after cost to serve",
        "supplier net margin", "share of revenue"),
    "margin_first_year": Outcome(
        "net margin of all suppliers over the first 12 months", "net margin in the first year",
        "share of revenue"),
    "margin_last_year": Outcome(
        "net margin of all suppliers over the last 12 months", "net margin in the last year",
        "share of revenue"),
    "selling_cost_share": Outcome(
        "selling, service and account costs over the last 12 months (cost to serve, SMB "
        "selling, KAMs and levers, extra demands delivered) as a share of revenue: the "
        "model's SG&A", "selling, service and account costs", "share of revenue"),
    "survival_rate": Outcome(
        "share of suppliers whose cumulative losses never exceeded their equity "
        "(equity_to_sales)", "suppliers that survive", "share of suppliers"),
    "survivors_margin": Outcome(
        "net margin over the horizon of the suppliers that survive (None if none does)",
        "survivors' net margin", "share of revenue"),
    "loss_years": Outcome(
        "share of the suppliers' full years (of 12 months) that ended in a loss",
        "years ending in a loss", "share of supplier-years"),
    "operational_share": Outcome(
        "share of KAM time spent on fulfilment in the last month",
        "operational share of KAM time", "share of KAM time"),
    "mean_alignment": Outcome(
        "mean KAM alignment with the employer at the end", "KAMs' alignment with employer",
        "index, 1 loyal to 0 captured"),
    "mean_skill": Outcome("mean KAM skill at the end", "KAMs' skill", "share"),
    "kam_activity": Outcome(
        "mean KAM working time in the last month (1 = full time)", "KAMs' working time",
        "share of full time"),
    "deadlock_rate": Outcome(
        "share of contract negotiations that ended without agreement",
        "negotiations ending in deadlock", "share of negotiations"),
    "key_price_change": Outcome(
        "relative change of the mean key-account price over the run",
        "change of the key-account price", "relative change"),
    "client_satisfaction": Outcome(
        "mean key buyers' satisfaction at the end", "key clients' satisfaction",
        "index, 0 to 1"),
    "smb_service_level": Outcome(
        "mean share of SMB service needs met over the run", "small clients' service level",
        "share of needs met"),
    "smb_base_change": Outcome(
        "relative change in the number of SMB clients over the run",
        "change in small clients", "relative change"),
    "erosion_price": Outcome(
        "margin lost to price concessions, share of revenue",
        "margin lost to price concessions", "share of revenue"),
    "erosion_demands": Outcome(
        "margin lost to extra demands granted, share of revenue",
        "margin lost to extra demands granted", "share of revenue"),
    "erosion_resources": Outcome(
        "SMB margin lost to diverted service resources, share of revenue",
        "margin lost to diverted service", "share of revenue"),
    "lever_costs": Outcome(
        "people and lever costs beyond base KAM salaries, share of revenue",
        "cost of the levers", "share of revenue"),
    "year_end_concessions": Outcome(
        "share of the price concessions made in the last quarter of the KPI year (0.25 if "
        "they do not cluster; P7)", "concessions at the KPI year's end",
        "share of concessions"),
    "loyalty_discount": Outcome(
        "how much less the more satisfied half of a buyer's suppliers charge it than the "
        "less satisfied half, relative to the mean price (P6)", "discount to loyal clients",
        "relative price"),
    "whale_peak": Outcome(
        "peak of the cumulative profit curve of a supplier's customers sorted by profit, as "
        "a multiple of total profit (1 if no customer loses money; P9), over the suppliers "
        "whose customers make a profit in all (0 if none does)", "peak of the whale curve",
        "multiple of total profit"),
    "whale_key_at_both_ends": Outcome(
        "share of suppliers whose most and least profitable customers are both key accounts "
        "(P9)", "key accounts at both ends of the whale curve", "share of suppliers"),
}
