"""Plain words of a diagnosis: amounts, signed numbers, levers and their doses, risk levels.

Every reader-facing string of a diagnosis (report, deck, command line) names levers and
constants in plain words (:func:`kamabm.names.human`), never by their code names, writes
amounts with a non-breaking space between the currency and the digits (so that an amount
never wraps), and never prints "-0": a value that rounds to zero prints as "0".
"""

from __future__ import annotations

import math

from kamabm.diagnosis.client import KPI_MIX, LOWER_PRESSURE, Client
from kamabm.model.params import Parameters
from kamabm.names import human, pct

#: Non-breaking space: inside an amount ("EUR 1,230,000") and before a unit.
NBSP = "\u00a0"
#: The minus sign printed (not the hyphen).
MINUS = "\u2212"
#: Capture risk in words: below each bound the word (share of runs captured).
RISK_WORDS: tuple[tuple[float, str], ...] = ((0.1, "low"), (0.3, "moderate"), (0.6, "high"),
                                             (math.inf, "very high"))


def money_text(value: float, currency: str = "", *, sign: bool = False) -> str:
    """An amount with thousands separators, to three significant digits above 1,000.

    ``money_text(-1234567, "EUR")`` is ``"−EUR 1,230,000"`` (a non-breaking space after
    the currency); ``sign`` writes a plus sign on gains; an amount that rounds to zero is
    ``"0"`` whatever its sign; ``"n/a"`` for a missing amount.
    """
    if not math.isfinite(value):
        return "n/a"
    magnitude = abs(value)
    if magnitude >= 1000:
        magnitude = round(magnitude, 2 - int(math.floor(math.log10(magnitude))))
    text = f"{magnitude:,.0f}"
    zero = text == "0"
    prefix = MINUS if value < 0 and not zero else "+" if sign and value > 0 and not zero \
        else ""
    return f"{prefix}{currency + NBSP if currency else ''}{text}"


def number_text(value: float, digits: int = 0, *, sign: bool = False) -> str:
    """A number with ``digits`` decimals and a true minus sign; never "-0".

    Anything that rounds to zero is "0" (neither "-0" nor "+0").
    """
    if not math.isfinite(value):
        return "n/a"
    text = f"{abs(value):.{digits}f}"
    if float(text) == 0:
        return "0"
    return (MINUS if value < 0 else "+" if sign else "") + text


def band_text(mid: float, low: float, high: float, *, scale: float = 100.0,
              unit: str = " %", sign: bool = False) -> str:
    """``57 % (39 to 73 %)``; points with a sign when ``sign``."""
    if not math.isfinite(mid):
        return "n/a"
    unit = unit.replace(" ", NBSP)
    return (f"{number_text(scale * mid, sign=sign)}{unit} ({number_text(scale * low, sign=sign)}"
            f" to {number_text(scale * high, sign=sign)}{unit})")


def money_band(mid: float, low: float, high: float, currency: str, *,
               sign: bool = False) -> str:
    """``EUR 1,230,000 (EUR 400,000 to EUR 2,100,000)``."""
    if not math.isfinite(mid):
        return "n/a"
    return (f"{money_text(mid, currency, sign=sign)} ({money_text(low, currency, sign=sign)} "
            f"to {money_text(high, currency, sign=sign)})")


def risk_word(share: float) -> str:
    """A capture risk in words (:data:`RISK_WORDS`)."""
    return next(word for bound, word in RISK_WORDS if share < bound)


def cap(text: str) -> str:
    """``text`` with its first letter in upper case."""
    return text[:1].upper() + text[1:]


# --- levers ------------------------------------------------------------------------------------
def lever_name(lever: str) -> str:
    """A lever's or an option's plain name (a combination joins its levers with "+")."""
    if " + " in lever:
        return " + ".join(lever_name(part) for part in lever.split(" + "))
    if lever == LOWER_PRESSURE:
        return "lower sales pressure"
    return human(lever)


def dose_text(lever: str, dose: float) -> str:
    """A lever's dose in short words (``every 12 months``, ``50 %``)."""
    if lever == "rotation_months":
        return f"every {dose:g} months"
    if lever == "smb_growth":
        return (f"{100 * 12 * dose:.0f} % of today's small clients won on top a year, "
                f"{100 * dose:g} % a month")
    if lever == KPI_MIX:
        return f"{100 * dose:.0f} % of the KPI on margin"
    if lever == LOWER_PRESSURE:
        return f"to {dose:g}"
    return f"{100 * dose:.0f} % strength"


def yearly_dose(lever: str, dose: float, client: Client) -> str:
    """What a lever's dose means in a year, in plain words (from the model's rules).

    ``smb_growth`` 0.02 wins, each month, 2 % of the opening number of small clients on
    top of the usual inflow (not compounding): 24 % of today's small-client base a year.
    """
    p = Parameters()
    if lever == "smb_growth":
        return (f"win {100 * 12 * dose:.0f} % of today's number of small clients a year on "
                f"top of the usual inflow ({100 * dose:g} % a month), each costing "
                f"{p.smb_acquisition_cost:g} months of its margin to win")
    if lever == "rotation_months":
        moves = 12 / dose
        return (f"each KAM hands his key account to a colleague every {dose:g} months "
                f"({moves:g} handover{'s' if moves != 1 else ''} a year per account)")
    if lever == KPI_MIX:
        return (f"{100 * dose:.0f} % of the KAMs' yearly bonus paid on margin, "
                f"{100 * (1 - dose):.0f} % on volume")
    if lever == "senior_support":
        months = 12 * dose * p.senior_time
        return (f"a senior manager joins key negotiations, about {months:.1f} months of "
                f"senior time a year per KAM")
    if lever == "deal_review":
        return (f"a manager reviews {100 * dose:.0f} % of the deals and extras granted, all "
                "year; prices below the floor are sent back")
    if lever == "training":
        return (f"training with protected learning time at {100 * dose:.0f} % of the "
                "standard programme, every year")
    if lever == LOWER_PRESSURE:
        stretch = Parameters.default("quota_stretch")
        return (f"the yearly quota asks {100 * stretch * dose:.0f} % more than last year "
                f"instead of {100 * stretch * client.pressure:.0f} % (pressure "
                f"{client.pressure:g} to {dose:g}); no cost booked, the volume not asked "
                "for is in its net effect")
    return dose_text(lever, dose)


def option_dose(option: str, doses: dict[str, float], client: Client) -> str:
    """An option's doses a year, each lever's in turn ("; " between them)."""
    return "; ".join(yearly_dose(part, doses[part], client) for part in option.split(" + "))


def status_quo_text(client: Client) -> str:
    """The client's status quo in one plain paragraph."""
    accounts = ", ".join(f"{a.name} ({pct(a.share, 0)}, {a.kind})" for a in client.accounts)
    in_place = [f"{human(n)} ({dose_text(n, v)})" for n, v in client.settings().items()
                if v]
    rivals = ("" if client.rival_pressure is None else
              f" Its rivals' pressure is {client.rival_pressure:g}.")
    return (f"{client.name}: turnover {money_text(client.turnover, client.currency)} a year; "
            f"{len(client.accounts)} key account{'s' if len(client.accounts) > 1 else ''} "
            f"make{'' if len(client.accounts) > 1 else 's'} {pct(client.key_share, 0)} of "
            f"it: {accounts}. {client.suppliers} suppliers "
            f"compete for every key account (the client included). Sales management: "
            f"{client.pressure_text()}.{rivals} Levers in place: "
            f"{', '.join(in_place) if in_place else 'none'}.")
