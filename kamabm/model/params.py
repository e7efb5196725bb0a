"""The model's parameters: one typed, immutable, validated object.

Every other face of the project (the command line, experiment files, the app's
controls, chart axes and report tables, the ODD's parameter table) is derived from
:class:`Parameters`; no default, range, unit or label is typed anywhere else. What one
parameter is (its :class:`~kamabm.model.spec.Spec`) lives in :mod:`kamabm.model.spec`.

Units: money is measured in units of the supplier's unit production cost (so the unit
cost is 1), volume in units of product, time in months.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kamabm.model.constants import (
    CAPTURED_BELOW,
    FIVE_YEARS,
    LAST_YEAR,
    MONTHS_PER_YEAR,
)
from kamabm.model.spec import (
    COST,
    GROUPS,
    KAM,
    LEVER,
    MARKET,
    NEGOTIATION,
    RUN,
    STRUCTURAL,
    ParameterError,
    Spec,
    as_number,
    as_numbers,
    check_lists,
    unknown_name,
)

# Short names keep the declarations below compact.
from kamabm.model.spec import constant as _s
from kamabm.model.spec import parameter as _p

#: What importers take from here: the object, its errors and specs, the groups and the
#: observation constants.
__all__ = ["CAPTURED_BELOW", "COST", "FIVE_YEARS", "GROUPS", "KAM", "LAST_YEAR", "LEVER",
           "MARKET", "MONTHS_PER_YEAR", "NEGOTIATION", "RUN", "SEQUENCES", "SHARE_TOLERANCE",
           "STRUCTURAL", "ParameterError", "Parameters", "Spec"]


@dataclass(frozen=True)
class Parameters:
    """All parameters of one model run, with their defaults.

    Build with keywords (``Parameters(kam_pressure=0.8)``), from a TOML file
    (:meth:`from_toml`) or from ``NAME=VALUE`` strings (:meth:`with_assignments`).
    Values are checked on construction; a bad one raises :class:`ParameterError`.
    """

    # --- market (E1, E2, E5) -------------------------------------------------------
    client_revenue_share: float = _p(
        0.5, "share", 0, 1, "key accounts' share of each supplier's turnover at the start (E1)",
        MARKET, low_open=True, label="key clients' share of turnover")
    key_share_concentration: float = _p(
        0.0, "Zipf exponent", 0, 4, "how the key accounts' share is split across the key "
        "buyers: buyer k gets a share in proportion to k ** -exponent (0 equal split)", MARKET,
        label="inequality of the key clients' shares", scale="0 equal to 4 one dominates")
    key_account_shares: tuple[float, ...] = _p(
        (), "share each", 0, 1, "each key buyer's share of its supplier's turnover at the "
        "start, largest first (one per key buyer, summing to client_revenue_share); empty "
        "splits by key_share_concentration", MARKET, low_open=True,
        label="each key client's share of turnover")
    n_suppliers: int = _p(
        4, "suppliers", 2, 20, "competing suppliers; each key buyer's alternatives are the "
        "rivals (E5)", MARKET, label="competing suppliers")
    n_key_buyers: int = _p(
        3, "clients", 1, 20, "large buyers; every supplier serves each through one KAM", MARKET,
        label="key clients", scale="each supplier has one KAM per client")
    focal_levers_only: int = _p(
        0, "switch", 0, 1, "1: only the first supplier (the client a diagnosis describes) "
        "runs the management levers, its rivals none; 0: every supplier runs them", MARKET,
        label="levers at the first supplier only",
        scale="1 the first supplier alone, 0 every supplier")
    n_smb_clients: int = _p(
        200, "clients", 1, 5000, "SMB owner-clients per supplier at the start (E3)", MARKET,
        label="small clients per supplier")
    list_markup: float = _p(
        0.50, "share of unit cost", 0.05, 2, "list price above unit cost; SMB deals start from it",
        MARKET, label="list price markup")
    service_cost: float = _p(
        0.04, "money per unit", 0, 0.5, "ordinary cost to serve one unit of volume", MARKET,
        label="cost to serve")
    key_service_saving: float = _p(
        0.44, "share", 0, 1, "share of the per-unit cost to serve a key account saves: large "
        "planned orders, full loads, electronic ordering (Kalwani & Narayandas 1995)", MARKET,
        label="key accounts' saving on cost to serve")
    smb_selling_cost: float = _p(
        0.06, "money per unit", 0, 0.5, "selling and admin cost of a unit sold to SMB clients "
        "(field sales, orders, credit); a key account's is its KAM (Patatoukas 2012)", MARKET,
        label="selling cost of small clients")
    overhead_share: float = _p(
        0.06, "share of revenue", 0, 0.5, "each supplier's fixed costs per month, as a share of "
        "its monthly revenue at the start; they stay when volume is lost", MARKET,
        label="fixed costs")
    equity_to_sales: float = _p(
        0.4, "years of sales", 0.01, 5, "capital that absorbs a supplier's losses, in years of "
        "opening sales; cumulative losses beyond it mark the supplier failed", MARKET,
        label="supplier's equity")
    restructuring_cost: float = _p(
        1.0, "years of the saving", 0, 5, "one-off cost of cutting fixed costs after a losing "
        "year (severance, closures), in years of the fixed costs saved", COST,
        label="cost of restructuring")
    smb_churn: float = _p(
        0.01, "per month", 0, 0.2, "SMB clients leaving each month when fully served", MARKET,
        label="small-client churn")
    smb_service_churn: float = _p(
        0.10, "per month", 0, 1, "extra SMB churn per unit of service shortfall (E9)", MARKET,
        label="churn per service shortfall")
    resource_slack: float = _p(
        0.15, "share", 0, 2, "service capacity beyond ordinary needs, shared by all clients",
        MARKET, label="spare service capacity")

    # --- buyers and negotiation (E2, E4, E5) ---------------------------------------
    buyer_detachment: float = _p(
        0.8, "weight", 0, 1, "weight of procedural targets vs. the firm's result in the buyer "
        "negotiator's utility; 0 is an owner (E4)", NEGOTIATION,
        label="buyers' detachment", scale="0 owner-run to 1 procurement-run")
    buyer_detachments: tuple[float, ...] = _p(
        (), "weight each", 0, 1, "each key buyer negotiator's detachment, in the order of "
        "key_account_shares (one per key buyer: 0 owner-run, 1 procurement-run); empty: "
        "every buyer at buyer_detachment", NEGOTIATION, label="each buyer's detachment")
    price_cut_target: float = _p(
        0.04, "share per year", 0, 0.3, "yearly price cut in the buyer negotiator's job "
        "description", NEGOTIATION, label="buyers' yearly price-cut target")
    buyer_leverage: float = _p(
        1.5, "per unit share", 0, 10, "how much more a buyer asks for per unit of its share of "
        "the supplier's turnover: it knows its weight (Inderst & Montez 2019)", NEGOTIATION,
        label="buyer's leverage")
    rival_benchmark: float = _p(
        0.5, "weight", 0, 1, "weight of the lowest price and the richest service a rival "
        "supplier granted in the buyer's targets: 'another will accept' (E5)", NEGOTIATION,
        label="rival benchmarking")
    viable_markup: float = _p(
        0.099, "share of unit cost", 0, 0.5, "margin over the supplier's full unit cost of an "
        "account below which a key buyer's target does not go: a buyer needs its supplier "
        "viable (Inderst & Montez 2019: mutual dependence; should-cost pricing)",
        NEGOTIATION, label="margin a buyer leaves its supplier")
    switching_cost: float = _p(
        0.05, "share of price", 0, 0.5, "real cost to the buyer firm of moving volume to a rival",
        NEGOTIATION, label="buyers' switching cost")
    demand_rate: float = _p(
        0.02, "share of revenue per month", 0, 0.5, "extra demands (services, terms, audits) a "
        "key buyer raises each month (E2)", NEGOTIATION, label="key clients' extra demands")
    ratchet: float = _p(
        0.15, "share", 0, 1, "how far a buyer raises its asks after a pliant deal", NEGOTIATION,
        label="buyers' ratchet")
    negotiation_rounds: int = _p(
        8, "offers", 2, 50, "offers exchanged before the deadline of one contract negotiation",
        NEGOTIATION, label="offers per negotiation")
    contract_months: int = _p(
        3, "months", 1, 24, "length of a key-account contract (renegotiated at its end)",
        NEGOTIATION, label="contract length")
    breakdown_shift: float = _p(
        0.5, "share", 0, 1, "share of its volume a buyer moves to rivals after a deadlock (E5)",
        NEGOTIATION, label="volume moved after a deadlock")
    price_sensitivity: float = _p(
        8.0, "1 / relative price", 0, 50, "how strongly buyers move volume toward cheaper "
        "suppliers at renewal", NEGOTIATION, label="buyers' price sensitivity")
    service_sensitivity: float = _p(
        4.0, "1 / satisfaction", 0, 50, "how strongly buyers move volume toward suppliers that "
        "grant their demands", NEGOTIATION, label="buyers' service sensitivity")

    # --- KAMs: pressure, learning, capture (E3, E6 to E11) -------------------------
    kam_pressure: float = _p(
        0.5, "index", 0, 1, "management pressure on KAMs: quota tightness and the weight of the "
        "KPI in pay (E8)", KAM, label="sales pressure on KAMs", scale="0 none to 1 maximum")
    supplier_pressures: tuple[float, ...] = _p(
        (), "index each", 0, 1, "management pressure on each supplier's KAMs, the first "
        "supplier (a diagnosed client) first, one per supplier; empty: every supplier at "
        "kam_pressure. A pressure change moves every supplier by the same step", KAM,
        label="each supplier's sales pressure")
    pressure_change_month: int = _p(
        0, "month", 0, 600, "month after which kam_pressure becomes pressure_after_change "
        "(0 never; for hysteresis experiments, E11)", KAM,
        label="month of the pressure change", scale="0 never")
    pressure_after_change: float = _p(
        0.0, "index", 0, 1, "management pressure from pressure_change_month on", KAM,
        label="sales pressure after the change", scale="0 none to 1 maximum")
    quota_stretch: float = _p(
        0.2, "share", 0, 1, "yearly volume growth the quota asks for at kam_pressure = 1", KAM,
        label="growth the quota asks for")
    blame_weight: float = _p(
        6.0, "stress per share of turnover", 0, 50, "stress a KAM takes when his account loses "
        "volume, per unit of his firm's turnover lost: his standing (E8)", KAM,
        label="blame for lost volume")
    keep_client_override: float = _p(
        1.0, "weight", 0, 1, "how far management, when the firm cannot afford to lose an "
        "account, lowers its KAM's floor and tells him to keep the client (E8)", KAM,
        label="management's 'keep the client'")
    cushion_held: int = _p(
        0, "switch", 0, 1, "1: dependence is read against the opening books' profit cushion, "
        "held fixed (a knock-out: a giant client without the firm's own trouble); 0: against "
        "the profit the firm now makes", KAM,
        label="profit cushion held at its opening value",
        scale="1 held, 0 follows the books")
    pin_first_kam: int = _p(
        0, "switch", 0, 1, "1: the first supplier's KAM on the first buyer is held at "
        "pinned_alignment all run (a causal test of contagion, not a lever)", KAM,
        label="one KAM held captured", scale="1 held, 0 free")
    pinned_alignment: float = _p(
        0.24, "alignment", 0, 1, "the alignment a pinned KAM is held at (captured KAMs settle "
        "near 0.24 at share 0.8, pressure 0.6)", KAM, label="alignment of the held KAM")
    peer_influence: float = _p(
        0.3, "weight", 0, 1, "weight of successful colleagues' client-side work in what a KAM's "
        "identification follows (peer effects, Chan, Li & Pierce 2014)", KAM,
        label="influence of peers")
    smb_habit_beta: float = _p(
        2.0, "tactic exponent", 0.05, 20, "concession tactic KAMs bring from SMB deals; > 1 "
        "concedes early (E3)", KAM, label="KAMs' concession habit from small clients")
    smb_reciprocity: float = _p(
        0.8, "weight", 0, 1, "weight of tit-for-tat (concede as the other concedes) in the "
        "tactic KAMs bring from SMB deals (E3, E6)", KAM,
        label="KAMs' tit-for-tat habit from small clients")
    initial_skill: float = _p(
        0.2, "share", 0, 1, "KAMs' skill with detached negotiators when hired (E6)", KAM,
        label="KAMs' skill when hired")
    learning_ability: float = _p(
        0.3, "probability", 0, 1, "chance a KAM learns from a hard negotiation with time to "
        "reflect (E7)", KAM, label="KAMs' ability to learn")
    identification_gain: float = _p(
        6.7, "index", 0, 20, "strength of the loop from client approval and client-side work "
        "to identification (E9 to E11)", KAM, label="strength of identification with the client")
    capture_speed: float = _p(
        0.062, "per month", 0.001, 1, "rate at which a KAM's loyalty follows the forces on it", KAM,
        label="speed of capture")
    employer_pull: float = _p(
        0.17, "per month", 0, 5, "baseline pull of the employer's culture back toward loyalty",
        KAM, label="employer's pull back to loyalty")

    # --- management levers (E12, model guide section 5) ----------------------------
    kpi_margin_weight: float = _p(
        0.0, "weight", 0, 1, "weight of margin (vs. volume) in the KAM's KPI", LEVER,
        label="margin in the KAMs' bonus", scale="0 volume only to 1 margin only")
    training: float = _p(
        0.0, "index", 0, 1, "training and re-training with protected learning time (E6, E7)",
        LEVER, label="training with protected learning time", scale="0 none to 1 full")
    deal_review: float = _p(
        0.0, "index", 0, 1, "deal review and limited pricing authority: the share of "
        "deals and granted extras a manager reviews (prices below the floor and unpaid extras "
        "sent back; approvals cost time and offers)", LEVER,
        label="deal review and pricing limits", scale="0 none to 1 strict")
    senior_support: float = _p(
        0.0, "index", 0, 1, "senior involvement and team selling (E7)", LEVER,
        label="senior managers at key negotiations", scale="0 never to 1 always")
    rotation_months: int = _p(
        0, "months", 0, 600, "months between KAM rotations across a supplier's accounts "
        "(staggered across suppliers); 0 never rotates", LEVER,
        label="rotating KAMs between clients", scale="0 never")
    smb_growth: float = _p(
        0.0, "per month", 0, 0.1, "extra SMB acquisition each month, to cut key-client stakes",
        LEVER, label="extra small-client acquisition")

    # --- what people and levers cost the supplier ----------------------------------
    kam_cost: float = _p(
        0.02, "share of account revenue", 0, 0.2, "a KAM's full monthly cost, as a share of his "
        "account's monthly revenue at the start (assumption: 120 k a year on a 6 M account)",
        COST, label="KAM cost")
    senior_time: float = _p(
        0.25, "FTE per KAM", 0, 1, "senior time per KAM at senior_support = 1", COST,
        label="senior time per KAM")
    senior_cost_rate: float = _p(
        2.0, "KAM-months per month", 0, 10, "cost of one month of senior time, in KAM-months",
        COST, label="cost of senior time")
    training_fee: float = _p(
        1.0, "KAM-months per year", 0, 12, "course fees per KAM and year at training = 1 "
        "(learning time away from the account is booked on top)", COST, label="training fees")
    review_time: float = _p(
        0.25, "KAM-months per deal", 0, 5, "manager time per reviewed negotiation at "
        "deal_review = 1", COST, label="deal-review time")
    review_rounds_lost: int = _p(
        2, "offers", 0, 20, "offers lost to approval delays at deal_review = 1 (a later deadline "
        "can cost the deal)", COST, label="offers lost to deal review")
    handover_months: float = _p(
        1.0, "KAM-months", 0, 12, "overlap and onboarding cost of one account handover", COST,
        label="cost of a handover")
    smb_acquisition_cost: float = _p(
        6.0, "months of a client's margin", 0, 60, "cost of winning one extra SMB client, in "
        "months of its gross margin", COST, label="cost of winning a small client")

    # --- run control -----------------------------------------------------------------
    horizon_months: int = _p(
        60, "months", 12, 600, "length of a run (one step is one month), or its cap with "
        "steady_state_window", RUN, label="length of the run")
    steady_state_window: int = _p(
        0, "months", 0, 120, "stop early once no KAM crossed the captured threshold and mean "
        "alignment and identification moved less than steady_state_tolerance over this many "
        "months, after month 60 (0 runs to the horizon)", RUN,
        label="steady-state window", scale="0 runs to the horizon")
    steady_state_tolerance: float = _p(
        0.01, "alignment", 0, 1, "largest change of mean alignment (and identification) over "
        "the window that still counts as steady", RUN, label="steady-state tolerance")

    # --- structural constants: the numbers inside the behavioural rules ----------------
    # Each has a plausible range and its source or the assumption behind it; the ODD's
    # constants table is generated from these fields (see docs/ODD.md, Calibration).
    # The KAM's floor and stance (kam.py)
    min_margin: float = _s(
        0.25, "share of unit cost", 0, 0.5, "margin over full unit cost below which a loyal, "
        "unpressured KAM will not sell", "minimum-margin pricing; ABC-fitted (ODD, Calibration)",
        label="KAMs' minimum margin")
    margin_kpi_floor: float = _s(
        0.10, "share of unit cost", 0, 0.5, "extra walk-away margin when the KPI is all margin",
        "Weinberg 1975: margin-based pay aligns the salesperson's price with profit",
        label="walk-away margin of a margin KPI")
    skilled_beta: float = _s(
        0.5, "tactic exponent", 0.05, 1, "concession tactic of a fully skilled KAM (Boulware "
        "below 1)", "Faratin, Sierra & Jennings 1998: Boulware tactics win against patient "
        "opponents", label="skilled KAM's tactic")
    opening_markup: float = _s(
        0.03, "share of price", 0, 0.3, "how far above the current price a loyal KAM opens",
        "assumption: a small anchor above the going price", label="KAM's opening markup")
    captured_tactic_gain: float = _s(
        3.0, "multiple", 0, 10, "how much faster a fully captured KAM concedes (tactic exponent "
        "multiplied by 1 + gain x (1 - alignment))", "model guide 3: a captured KAM concedes "
        "faster; calibrated", label="captured KAM's faster conceding")
    client_wish_weight: float = _s(
        0.5, "weight", 0, 1, "how far a captured KAM's walk-away goes below the buyer's target, "
        "per unit of the cut the buyer asks", "model guide 3: his utility weighs the client's",
        label="captured KAM's regard for the client's wish")
    patience_base: float = _s(
        0.95, "per offer", 0.5, 1, "a calm KAM's discount factor per offer", "Rubinstein 1982; "
        "assumption", label="calm KAM's patience")
    patience_loss: float = _s(
        0.15, "per offer", 0, 0.5, "patience lost at full 'we have to agree'",
        "E8: time pressure; assumption", label="patience lost to pressure")
    coping_skill: float = _s(
        0.5, "weight", 0, 1, "share of felt pressure a fully skilled KAM copes with",
        "E7: a strong KAM learns to hold; assumption", label="pressure a skilled KAM copes with")
    refusal_pressure: float = _s(
        0.5, "weight", 0, 1, "how far 'we have to agree' erodes a loyal, unskilled KAM's "
        "refusal of extra demands", "E8, E9; assumption", label="pressure against refusing demands")
    # Reach: how far the KAM reconnects the buyer to its firm's result (E7)
    reach_skill: float = _s(
        0.5, "weight", 0, 1, "weight of skill in the KAM's reach", "E7: seeking causes",
        label="skill in a KAM's reach")
    reach_senior: float = _s(
        0.3, "weight", 0, 1, "weight of senior support in the KAM's reach",
        "Workman, Homburg & Jensen 2003: team selling", label="senior support in a KAM's reach")
    reach_familiarity: float = _s(
        0.2, "weight", 0, 1, "weight of knowing the account in the KAM's reach",
        "relationship knowledge lost by rotation (Tirole 1986)",
        label="familiarity in a KAM's reach")
    familiarity_months: float = _s(
        12.0, "months", 1, 60, "months for a new KAM to know an account fully",
        "assumption: one KPI year", label="months to know an account")
    # Felt pressure (E8)
    w_base: float = _s(0.3, "index", 0, 2, "felt pressure from the KPI when it is on track",
                       "assumption; calibrated with threshold", label="felt pressure on track")
    w_gap: float = _s(1.5, "index", 0, 5, "felt pressure per unit of KPI shortfall",
                      "Oyer 1998; Larkin 2014: quota gaps drive deals",
                      label="felt pressure per KPI shortfall")
    w_deadline: float = _s(0.4, "index", 0, 2, "felt pressure added by the end of the KPI "
                           "year (grows linearly over the year)", "Oyer 1998; Larkin 2014",
                           label="felt pressure at the KPI year's end")
    w_stress: float = _s(1.0, "index", 0, 5, "felt pressure per unit of stress", "assumption",
                         label="felt pressure per unit of stress")
    w_skill: float = _s(0.8, "index", 0, 5, "felt pressure removed by full skill", "E7",
                        label="felt pressure removed by skill")
    w_keep: float = _s(2.2, "index", 0, 5, "felt pressure from management's 'keep the client' "
                       "instruction at full dependence", "E8; ABC-fitted (ODD, Calibration)",
                       label="felt pressure to keep the client")
    senior_share: float = _s(0.5, "share", 0, 1, "share of a negotiation's outcome (its "
                             "stress and the blame for volume lost) a senior colleague at the "
                             "table carries", "assumption: two at the table share it equally",
                             label="share of the outcome a senior carries")
    kpi_months: int = _s(12, "months", 1, 24, "length of the KPI year", "annual quotas "
                         "(Oyer 1998)", label="length of the KPI year")
    # Capture dynamics (E8 to E11)
    theta: float = _s(4.4, "index", 0, 10, "threshold of the drive toward the client's side",
                      "ABC-fitted (ODD, Calibration)",
                      label="threshold of the drive to the client's side")
    g_width: float = _s(0.077, "index", 0.01, 2, "width of the logistic drive toward the "
                        "client's side", "ABC-fitted (ODD, Calibration)",
                        label="width of the drive to the client's side")
    id_rate: float = _s(0.15, "per month", 0.01, 1, "rate at which identification follows "
                        "behaviour", "assumption: months, not weeks or years",
                        label="speed of identification")
    id_ops: float = _s(0.85, "weight", 0, 1, "weight of client-side work (vs. the client's "
                       "approval) in what identification follows", "E10: the work turns "
                       "operational; calibrated", label="client-side work in identification")
    # Stress (E8)
    stress_keep: float = _s(0.8, "share", 0, 0.99, "share of stress kept from one month to "
                            "the next", "assumption: stress fades over a few months",
                            label="stress kept from month to month")
    stress_deadlock: float = _s(0.5, "stress", 0, 5, "stress of a deadlock, before blame",
                                "assumption", label="stress of a deadlock")
    stress_pliant: float = _s(0.15, "stress", 0, 5, "stress of a deal at or below the buyer's "
                              "target", "assumption", label="stress of a pliant deal")
    stress_below_floor: float = _s(0.3, "stress", 0, 5, "stress of a deal below the floor",
                                   "assumption", label="stress of a deal below the floor")
    stress_refusal: float = _s(0.3, "stress", 0, 5, "stress of refusing a detached "
                               "negotiator's demands (he escalates by procedure)", "E4",
                               label="stress of refusing demands")
    # Learning (E7)
    skill_step: float = _s(0.2, "share", 0, 1, "share of the remaining skill gap closed by "
                           "one learning step", "assumption",
                           label="skill gained per learning step")
    learn_base: float = _s(0.5, "weight", 0, 1, "learning support without training or seniors",
                           "assumption", label="learning support without help")
    learn_training: float = _s(0.5, "weight", 0, 2, "learning support of full, protected "
                               "training", "E6, E7", label="learning support from training")
    learn_senior: float = _s(0.5, "weight", 0, 2, "learning support of full senior support",
                             "E7", label="learning support from seniors")
    learn_relief: float = _s(0.5, "share", 0, 1, "share of stress relieved by a learning step",
                             "E7", label="stress relieved by learning")
    # Time (E10)
    ops_base: float = _s(0.15, "months", 0, 1, "operational time with no demands granted",
                         "assumption", label="base operational time")
    ops_span: float = _s(1.4, "months", 0, 3, "most operational time that granted demands can "
                         "take", "E10: activity stays high; assumption",
                         label="most operational time from demands")
    nego_base: float = _s(0.5, "months", 0, 1, "negotiating time of a loyal KAM", "assumption",
                          label="loyal KAM's negotiating time")
    nego_floor: float = _s(0.4, "share", 0, 1, "share of negotiating time a captured KAM keeps",
                           "E10: negotiation drops out",
                           label="negotiating time a captured KAM keeps")
    nego_push: float = _s(0.4, "months", 0, 2, "most time spent arguing about refused demands",
                          "assumption", label="time arguing about refused demands")
    learn_time: float = _s(0.1, "months", 0, 1, "learning time at full training", "assumption",
                           label="learning time at full training")
    # The buyer's negotiator (E4, E5)
    owner_beta: float = _s(1.0, "tactic exponent", 0.05, 20, "tactic of an owner-negotiator",
                           "Faratin et al. 1998: linear", label="owner-negotiator's tactic")
    detached_beta: float = _s(0.25, "tactic exponent", 0.01, 1, "tactic of a fully detached "
                              "negotiator (Boulware)", "E4, E5; Zeuthen 1930",
                              label="detached negotiator's tactic")
    owner_delta: float = _s(0.90, "per offer", 0.5, 1, "patience of an owner (delay is his own "
                            "money)", "model guide 2", label="owner's patience")
    detached_delta: float = _s(0.99, "per offer", 0.5, 1, "patience of a detached negotiator",
                               "model guide 2", label="detached negotiator's patience")
    owner_reciprocity: float = _s(0.5, "weight", 0, 1, "tit-for-tat in an owner's tactic",
                                  "Faratin et al. 1998", label="owner's tit-for-tat")
    opening_cut: float = _s(2.0, "multiple", 1, 5, "how far below the current price a buyer "
                            "opens, in multiples of the cut it asks for", "assumption",
                            label="buyer's opening cut")
    initial_satisfaction: float = _s(0.5, "share", 0, 1, "a key buyer's satisfaction with "
                                     "each supplier at the start", "neutral start; assumption",
                                     label="key clients' satisfaction at the start")
    tender_weight: float = _s(0.5, "weight", 0, 1, "weight of one tender's result in the "
                              "buyer's satisfaction", "assumption",
                              label="weight of a tender in satisfaction")
    service_weight: float = _s(0.2, "weight", 0, 1, "weight of one month's service in the "
                               "buyer's satisfaction", "assumption",
                               label="weight of service in satisfaction")
    reallocation_speed: float = _s(0.25, "share", 0, 1, "share of the gap to its preferred "
                                   "split a buyer closes at each tender", "assumption",
                                   label="speed of volume reallocation")
    max_aspiration: float = _s(3.0, "multiple", 0, 10, "cap of the buyer's ratchet",
                               "assumption", label="cap of the buyers' ratchet")
    knowledge_sensitivity: float = _s(
        1.0, "1 / familiarity", 0, 20, "how strongly a buyer moves volume toward suppliers "
        "whose KAM knows its business (relationship knowledge)", "Shi, Sridhar, Grewal & "
        "Lilien 2017: a customer's purchases fall 13.2 to 17.6 % in the year after its "
        "salesperson changes; calibrated to it (docs/findings.md)",
        label="buyers' regard for a KAM who knows them")
    handover_trust_loss: float = _s(0.3, "share", 0, 1, "share of the buyer's satisfaction "
                                    "that was personal to a KAM who knew the account fully, "
                                    "lost at a handover", "Tirole 1986; Hertzberg et al. 2010",
                                    label="trust lost at a handover")
    # Suppliers and SMB clients
    sales_delta: float = _s(0.9, "per offer", 0.5, 0.999, "patience of the supplier's sales "
                            "force with SMB owners", "model guide 2: 35.7 % against an owner",
                            label="sales force's patience")
    smb_owner_delta: float = _s(0.9, "per offer", 0.5, 0.999, "patience of an SMB owner",
                                "model guide 2", label="small-client owner's patience")
    smb_size_spread: float = _s(0.5, "log-normal sigma", 0, 2, "spread of SMB clients' sizes",
                                "assumption", label="spread of small-client sizes")
    key_buyer_volume: float = _s(100.0, "units per month", 1, 1e6, "mean monthly volume of a "
                                 "key buyer (the scale is arbitrary; shares matter)",
                                 "scale only", label="key client's monthly volume")

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            spec: Spec = f.metadata["spec"]
            if f.name in SEQUENCES:
                object.__setattr__(self, f.name, as_numbers(f.name, getattr(self, f.name),
                                                             spec))
                continue
            value = as_number(f.name, getattr(self, f.name), spec, whole=f.type in ("int", int))
            if not (math.isfinite(value) and spec.admits(value)):
                raise ParameterError(
                    f"{f.name} = {value!r}: out of range, allowed {spec.range_text()} "
                    f"({spec.unit})")
            object.__setattr__(self, f.name, value)
        check_lists(self.key_account_shares, self.client_revenue_share, SHARE_TOLERANCE,
                    {"buyer_detachments": (self.buyer_detachments, self.n_key_buyers,
                                           "key buyer"),
                     "supplier_pressures": (self.supplier_pressures, self.n_suppliers,
                                            "supplier")})

    # --- construction helpers ------------------------------------------------------
    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Names of all parameters, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def spec(cls, name: str) -> Spec:
        """The :class:`Spec` (unit, range, meaning) of parameter ``name``."""
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f.metadata["spec"]
        raise ParameterError(unknown_name(name, Parameters.names()))

    @classmethod
    def default(cls, name: str) -> Any:
        """The default value of parameter ``name``."""
        cls.spec(name)
        return {f.name: f.default for f in dataclasses.fields(cls)}[name]

    @classmethod
    def is_sequence(cls, name: str) -> bool:
        """Whether parameter ``name`` takes a list of numbers (not swept by experiments)."""
        cls.spec(name)
        return name in SEQUENCES

    @classmethod
    def is_integer(cls, name: str) -> bool:
        """Whether parameter ``name`` takes whole numbers."""
        cls.spec(name)
        return {f.name: f.type for f in dataclasses.fields(cls)}[name] in ("int", int)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Parameters:
        """Build from a mapping of names to values; unknown names are errors."""
        for name in values:
            if name not in cls.names():
                raise ParameterError(unknown_name(name, Parameters.names()))
        return cls(**dict(values))

    @classmethod
    def from_toml(cls, path: str | Path) -> Parameters:
        """Read parameters from a TOML file of ``name = value`` lines.

        A ``[parameters]`` table is used when present, else the top level.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ParameterError(f"{path}: cannot read parameter file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ParameterError(f"{path}: not valid TOML ({exc})") from None
        data = data.get("parameters", data)
        try:
            return cls.from_mapping(data)
        except ParameterError as exc:
            raise ParameterError(f"{path}: {exc}") from None

    def replace(self, **changes: Any) -> Parameters:
        """A copy with some values changed (validated like a new object)."""
        for name in changes:
            if name not in self.names():
                raise ParameterError(unknown_name(name, Parameters.names()))
        return dataclasses.replace(self, **changes)

    def with_assignments(self, assignments: Iterable[str]) -> Parameters:
        """A copy with ``NAME=VALUE`` strings (as given to ``--set``) applied."""
        changes: dict[str, Any] = {}
        for text in assignments:
            name, sep, raw = text.partition("=")
            name = name.strip()
            if not sep:
                raise ParameterError(f"--set {text!r}: expected NAME=VALUE")
            spec = self.spec(name)
            try:
                if name in SEQUENCES:
                    changes[name] = tuple(float(x) for x in raw.split(",") if x.strip())
                else:
                    changes[name] = float(raw)
            except ValueError:
                raise ParameterError(
                    f"{name} = {raw.strip()!r}: not a number, allowed {spec.range_text()}"
                ) from None
        return self.replace(**changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain ``{name: value}`` dictionary, in declaration order."""
        return dataclasses.asdict(self)


#: Parameters that take a list of numbers, one per key buyer or one per supplier.
SEQUENCES = frozenset({"key_account_shares", "buyer_detachments", "supplier_pressures"})
#: How far explicit key-account shares may miss client_revenue_share (rounding).
SHARE_TOLERANCE = 1e-6
