"""The client a diagnosis describes: one supplier firm, from its own input file.

A consultant describes the client in a small TOML file (``experiments/client_example.toml``,
explained field by field in ``docs/diagnose.md``): ``[client]`` (name, turnover,
currency), one ``[[key_accounts]]`` block per key account (its share of turnover and who
negotiates for it), ``[market]``, ``[sales]``, the ``[levers]`` in place, optionally the
client's ``[books]`` (its actual margins) and ``[plan]`` (levers to combine), and ``[run]``
(the constants, constant sets drawn, runs per set, seed, horizon).
:func:`load_client` reads and checks it (:class:`ClientFile`: unknown keys refused, every
number within its range, the ranges of model parameters taken from
:class:`kamabm.model.params.Parameters`) into a :class:`Client`, which
:func:`kamabm.diagnosis.diagnose.diagnose` runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from kamabm.experiments.validation import (
    FileModel,
    Invalid,
    Text,
    check,
    parameter_field,
    parse_toml,
    read_text,
)
from kamabm.model.params import LEVER, ParameterError, Parameters

Negotiator = Literal["procurement", "owner"]
RivalsLevers = Literal["none", "same"]
#: Which constants the diagnosis runs at: sets drawn from the calibration's posterior
#: (``"posterior"``, the default) or the model's defaults only (``"defaults"``).
Constants = Literal["posterior", "defaults"]
#: The negotiator types and the buyer detachment each stands for (``buyer_detachment``'s
#: default for a procurement department, 0 for an owner).
NEGOTIATORS: dict[Negotiator, float] = {
    "procurement": float(Parameters.default("buyer_detachment")),
    "owner": 0.0,
}
#: The management levers (the ``lever`` group of :class:`Parameters`). The KPI mix,
#: ``kpi_margin_weight``, is given under ``[sales]``; the others under ``[levers]``.
LEVERS: tuple[str, ...] = tuple(n for n in Parameters.names()
                                if Parameters.spec(n).group == LEVER)
KPI_MIX = "kpi_margin_weight"
#: What the rivals run, as the model's ``focal_levers_only``: "none" of the levers (only
#: the client, supplier 0, runs its levers) or the "same" as the client (every supplier).
RIVALS_LEVERS: dict[RivalsLevers, int] = {"none": 1, "same": 0}
#: Runs of the client's market per constant set (the same seeds for every option tested).
DEFAULT_REPLICATIONS = 10
#: Constant sets drawn (by weight) from the calibration's posterior: 30 sets of 10 runs
#: give 300 runs an option; the example client's diagnosis (about 30 options: the status
#: quo, each lever, lower pressure, every pair) takes about 20 s on the compiled engine.
DEFAULT_DRAWS = 30
#: The calibration's posterior, relative to the client file's folders or the working
#: directory (:func:`kamabm.experiments.ensemble.find_posterior`).
DEFAULT_POSTERIOR = "results/calibration/posterior.csv"
#: Most constant sets a diagnosis may draw.
MAX_DRAWS = 1000
DEFAULT_MAP_REPLICATIONS = 10
#: The lower pressure tested as a lever ("lower sales pressure to 0.3"), unless the file
#: names another (``[sales] lowered_pressure``); tested only when below the client's.
DEFAULT_LOWERED_PRESSURE = 0.3
#: The lever name of lowering the pressure, as the file's ``[plan] combine`` names it.
LOWER_PRESSURE = "lower_pressure"
#: Levers the client may ask to combine: at least two, at most three.
MIN_COMBINE, MAX_COMBINE = 2, 3
DEFAULT_HORIZON_YEARS = 5
#: Most runs of each option (constant sets x replications): 10,000 measure a capture
#: share (a proportion of runs) to within one point either way at 95 % whatever it is
#: (the Wilson half-width is at most 1.96 x sqrt(0.25 / n) = 0.0098 at n = 10,000); more
#: only cost time (about 30 options of 10,000 runs: some 5 minutes on 2 cores).
MAX_REPLICATIONS = 10_000
#: Why :data:`MAX_REPLICATIONS`, in the words of the one-line refusal.
REPLICATIONS_WHY = "runs; 10,000 give a capture share to within 1 point at 95 %"
#: Detachment in words: below the first bound "owner-run", below the second "mixed",
#: else "procurement-run" (0 is an owner, 0.8 a procurement department).
DETACHMENT_WORDS: tuple[tuple[float, str], ...] = ((0.2, "owner-run"), (0.6, "mixed"),
                                                   (float("inf"), "procurement-run"))
MAX_MAP_REPLICATIONS = 1_000
MAX_SEED = 2**63 - 1
MAX_KEY_ACCOUNTS = int(Parameters.spec("n_key_buyers").high)
MAX_HORIZON_YEARS = int(Parameters.spec("horizon_months").high) // 12
#: Smallest difference between the client's pressure and the lowered pressure for
#: lowering it to count as a lever (pressure is given to about two decimals).
PRESSURE_STEP = 0.01


class ClientFileError(ParameterError):
    """A client file the diagnosis cannot accept; one line naming the field and range."""


# --- the client ----------------------------------------------------------------------------
@dataclass(frozen=True)
class KeyAccount:
    """One key account of the client.

    Attributes:
        name: the account's name.
        share: its share of the client's turnover, in (0, 1].
        negotiator: ``"procurement"`` or ``"owner"`` (:data:`NEGOTIATORS`).
        detachment: the buyer negotiator's detachment in the model, 0 (owner) to 1.

    """

    name: str
    share: float
    negotiator: Negotiator
    detachment: float

    @property
    def kind(self) -> str:
        """The negotiator as given, in words and number: ``"mixed (0.4)"``."""
        return f"{detachment_word(self.detachment)} ({self.detachment:g})"


def detachment_word(detachment: float) -> str:
    """A buyer negotiator's detachment in words (:data:`DETACHMENT_WORDS`)."""
    return next(word for bound, word in DETACHMENT_WORDS if detachment < bound)


@dataclass(frozen=True)
class Client:
    """A client firm as its input file describes it (see :func:`load_client`).

    Attributes:
        name: the firm's name.
        turnover: yearly turnover, in ``currency``.
        currency: the label of its money.
        accounts: its key accounts, in the file's order.
        suppliers: suppliers in the market, the client included.
        pressure: management pressure on the client's KAMs, 0 to 1.
        kpi_margin_weight: weight of margin (vs. volume) in the KAMs' KPI.
        rival_pressure: the rivals' pressure on their KAMs (None: the same as the client's).
        rivals_levers: ``"none"`` (the rivals run no levers; the client's levers, and each
            lever tested, are the client's alone) or ``"same"`` (the rivals run whatever
            levers the client runs, the tested one included).
        levers: the levers in place (:data:`LEVERS` other than the KPI mix), by name.
        replications: runs of the client's market per constant set, each with its own
            seed.
        map_replications: runs at each point of the capture map.
        seed: the master seed.
        horizon_years: years simulated.
        source: the file it was read from ("" when built in Python).
        constants: ``"posterior"`` (constant sets drawn from the calibration's posterior)
            or ``"defaults"`` (the model's defaults only; then ``draws x replications``
            runs at the defaults).
        draws: constant sets drawn from the posterior.
        posterior: the posterior CSV (:data:`DEFAULT_POSTERIOR`).
        net_margin: the client's actual net margin (profit / turnover), if given.
        gross_margin: the client's actual gross margin, if given (with ``sga_share``).
        sga_share: the client's SG&A as a share of turnover, if given.
        lowered_pressure: the lower pressure tested as a lever.
        combine: levers the client asks to see together (2 or 3 names, or none).

    """

    name: str
    turnover: float
    currency: str
    accounts: tuple[KeyAccount, ...]
    suppliers: int = 4
    pressure: float = 0.5
    kpi_margin_weight: float = 0.0
    rival_pressure: float | None = None
    rivals_levers: RivalsLevers = "none"
    levers: Mapping[str, float] = field(default_factory=dict)
    replications: int = DEFAULT_REPLICATIONS
    map_replications: int = DEFAULT_MAP_REPLICATIONS
    seed: int = 1
    horizon_years: int = DEFAULT_HORIZON_YEARS
    source: str = ""
    constants: Constants = "posterior"
    draws: int = DEFAULT_DRAWS
    posterior: str = DEFAULT_POSTERIOR
    net_margin: float | None = None
    gross_margin: float | None = None
    sga_share: float | None = None
    lowered_pressure: float = DEFAULT_LOWERED_PRESSURE
    combine: tuple[str, ...] = ()

    @property
    def target_margin(self) -> float | None:
        """The net margin the baseline is anchored to: given, or gross margin less SG&A."""
        if self.net_margin is not None:
            return self.net_margin
        if self.gross_margin is not None and self.sga_share is not None:
            return self.gross_margin - self.sga_share
        return None

    @property
    def constant_sets(self) -> int:
        """Constant sets run: ``draws`` from the posterior, or one (the defaults)."""
        return self.draws if self.constants == "posterior" else 1

    @property
    def runs_per_option(self) -> int:
        """Runs of each option tested: ``draws x replications`` (in either mode)."""
        return self.draws * self.replications

    @property
    def key_share(self) -> float:
        """The key accounts' total share of turnover."""
        return float(sum(a.share for a in self.accounts))

    @property
    def slug(self) -> str:
        """The name as a folder name: lower case, words joined by hyphens."""
        return slug(self.name)

    @property
    def market_pressure(self) -> float:
        """The rivals' pressure (the client's when no rival pressure is given)."""
        return self.pressure if self.rival_pressure is None else self.rival_pressure

    def settings(self) -> dict[str, float]:
        """Every lever's value at the client, the KPI mix included (0 when not in place)."""
        values = {name: 0.0 for name in LEVERS}
        values.update(self.levers)
        values[KPI_MIX] = self.kpi_margin_weight
        return values

    def not_in_place(self) -> tuple[str, ...]:
        """The levers the client does not use (each is tested at its standard dose)."""
        return tuple(n for n, v in self.settings().items() if v == 0)

    def lowers_pressure(self) -> bool:
        """Whether lowering the pressure is a lever here (the client's is higher)."""
        return self.pressure > self.lowered_pressure + PRESSURE_STEP / 2

    def options(self) -> tuple[str, ...]:
        """Every single lever tested: those not in place, then lowering the pressure."""
        return self.not_in_place() + ((LOWER_PRESSURE,) if self.lowers_pressure() else ())

    @staticmethod
    def set_here() -> frozenset[str]:
        """The parameters a client file sets (never taken from a posterior)."""
        return frozenset({"n_suppliers", "n_key_buyers", "key_account_shares",
                          "client_revenue_share", "buyer_detachments", "kam_pressure",
                          "supplier_pressures", "horizon_months", "focal_levers_only",
                          *LEVERS})

    def parameters(self, *, key_share: float | None = None, pressure: float | None = None,
                   **changes: Any) -> Parameters:
        """The model's parameters of the client's market (the client is supplier 0).

        Args:
            key_share: the key accounts' total share of turnover, if not the client's
                (each account's share is scaled in proportion; the capture map).
            pressure: the client's pressure, if not its own (the rivals' stays).
            **changes: other parameters to change (a lever's dose).

        """
        shares = [a.share for a in self.accounts]
        if key_share is not None:
            shares = [s * key_share / self.key_share for s in shares]
        own = self.pressure if pressure is None else pressure
        rival = self.market_pressure
        values: dict[str, Any] = {
            "n_suppliers": self.suppliers, "n_key_buyers": len(self.accounts),
            "key_account_shares": tuple(shares), "client_revenue_share": float(sum(shares)),
            "buyer_detachments": tuple(a.detachment for a in self.accounts),
            "kam_pressure": rival,
            "supplier_pressures": (() if own == rival
                                   else (own,) + (rival,) * (self.suppliers - 1)),
            "horizon_months": 12 * self.horizon_years,
            "focal_levers_only": RIVALS_LEVERS[self.rivals_levers],
            **{k: (int(v) if Parameters.is_integer(k) else v)
               for k, v in self.settings().items()},
        }
        values.update(changes)
        return Parameters(**values)

    def pressure_text(self, pressure: float | None = None) -> str:
        """What the pressure means in quota and pay terms, derived from the KAM's rules.

        Each KPI year the quota asks ``quota_stretch x pressure`` more than the account
        gives when the year starts (volume, or profit for the margin part of the KPI), and
        the gap to quota and the year-end deadline weigh on the KAM with ``pressure``
        times their full weight (``kamabm.model.kam``).
        """
        p = self.pressure if pressure is None else pressure
        stretch = float(Parameters.default("quota_stretch"))
        asks = 100 * stretch * p
        w = self.kpi_margin_weight
        what = ("volume" if w == 0 else "profit" if w == 1
                else f"volume ({100 * (1 - w):.0f} % of the KPI) and profit "
                     f"({100 * w:.0f} %)")
        return (f"pressure {p:g}: the quota asks {asks:.0f} % more {what} a year than the "
                f"account gives when the KPI year starts, and the gap to quota and the "
                f"year-end deadline weigh on the KAM's pay and standing at {100 * p:.0f} % "
                f"of their full force")


def slug(text: str) -> str:
    """``text`` as a folder name: lower-case letters and digits joined by hyphens."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(words) or "client"


# --- the file --------------------------------------------------------------------------------
class ClientTable(FileModel):
    """``[client]``: the firm's name, its yearly turnover and the label of its money."""

    name: Text
    turnover: float = Field(gt=0, json_schema_extra={"unit": "money a year"})
    currency: Annotated[str, StringConstraints(strip_whitespace=True)] = ""


class KeyAccountTable(FileModel):
    """One ``[[key_accounts]]`` block; ``detachment`` defaults to the negotiator's."""

    name: Text
    share: float = parameter_field("key_account_shares")
    negotiator: Negotiator
    detachment: float | None = parameter_field("buyer_detachment", None)


class MarketTable(FileModel):
    """``[market]``: suppliers competing for each key account, and what the rivals run."""

    suppliers: int = parameter_field("n_suppliers", Parameters.default("n_suppliers"))
    rivals_levers: RivalsLevers = "none"


class SalesTable(FileModel):
    """``[sales]``: pressure on the client's KAMs, their KPI mix and the rivals' pressure."""

    pressure: float = parameter_field("kam_pressure", Parameters.default("kam_pressure"))
    kpi_margin_weight: float = parameter_field(KPI_MIX, 0.0)
    rival_pressure: float | None = parameter_field("kam_pressure", None)
    lowered_pressure: float = parameter_field("kam_pressure", DEFAULT_LOWERED_PRESSURE)


class BooksTable(FileModel):
    """``[books]``: the client's actual margins, to which the model's baseline is anchored.

    Either ``net_margin`` (profit / turnover), or ``gross_margin`` with ``sga_share``
    (net margin = gross margin - SG&A); ``sga_share`` may also come with ``net_margin``.
    """

    net_margin: float | None = Field(default=None, gt=-1, lt=1,
                                     json_schema_extra={"unit": "share of turnover"})
    gross_margin: float | None = Field(default=None, gt=0, lt=1,
                                       json_schema_extra={"unit": "share of turnover"})
    sga_share: float | None = Field(default=None, ge=0, lt=1,
                                    json_schema_extra={"unit": "share of turnover"})

    @model_validator(mode="after")
    def _one_anchor(self) -> Self:
        if self.net_margin is not None and self.gross_margin is not None:
            raise Invalid(("gross_margin",), "give net_margin, or gross_margin with "
                                             "sga_share, not both margins")
        if self.gross_margin is not None and self.sga_share is None:
            raise Invalid(("sga_share",), "missing: gross_margin needs sga_share (net "
                                          "margin = gross margin - SG&A)")
        return self


class PlanTable(FileModel):
    """``[plan]``: levers the client wants to see together (2 or 3; see :data:`LEVERS`)."""

    combine: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known(self) -> Self:
        allowed = [*LEVERS, LOWER_PRESSURE]
        for i, name in enumerate(self.combine):
            if name not in allowed:
                raise Invalid((f"combine[{i}]",), f"expected one of {', '.join(allowed)}, "
                                                  f"got {name!r}")
        if self.combine and not MIN_COMBINE <= len(set(self.combine)) <= MAX_COMBINE:
            raise Invalid(("combine",), f"expected {MIN_COMBINE} to {MAX_COMBINE} different "
                                        f"levers, got {len(set(self.combine))}")
        return self


class LeversTable(FileModel):
    """``[levers]``: the management levers in place (0 or left out: not in place).

    One field per lever of the parameter registry but the KPI mix (under ``[sales]``),
    each within its range (a test checks they are :data:`LEVERS`).
    """

    training: float = parameter_field("training", 0.0)
    deal_review: float = parameter_field("deal_review", 0.0)
    senior_support: float = parameter_field("senior_support", 0.0)
    rotation_months: int = parameter_field("rotation_months", 0)
    smb_growth: float = parameter_field("smb_growth", 0.0)


class RunTable(FileModel):
    """``[run]``: runs per constant set, the map's runs, seed, horizon and the constants.

    ``constants`` = ``"posterior"`` draws ``draws`` constant sets from ``posterior``;
    ``"defaults"`` runs ``draws x replications`` runs at the model's defaults.
    """

    replications: int = Field(default=DEFAULT_REPLICATIONS, ge=2, le=MAX_REPLICATIONS,
                              json_schema_extra={"unit": REPLICATIONS_WHY})
    map_replications: int = Field(default=DEFAULT_MAP_REPLICATIONS, ge=1,
                                  le=MAX_MAP_REPLICATIONS,
                                  json_schema_extra={"unit": "runs a point"})
    seed: int = Field(default=1, ge=0, le=MAX_SEED)
    horizon_years: int = Field(default=DEFAULT_HORIZON_YEARS, ge=1, le=MAX_HORIZON_YEARS,
                               json_schema_extra={"unit": "years"})
    constants: Constants = "posterior"
    draws: int = Field(default=DEFAULT_DRAWS, ge=1, le=MAX_DRAWS,
                       json_schema_extra={"unit": "constant sets"})
    posterior: Text = DEFAULT_POSTERIOR

    @model_validator(mode="after")
    def _not_too_many(self) -> Self:
        if self.draws * self.replications > MAX_REPLICATIONS:
            raise Invalid(("draws",), f"draws x replications is "
                                      f"{self.draws * self.replications:,}, allowed at most "
                                      f"{MAX_REPLICATIONS:,} ({REPLICATIONS_WHY})")
        return self


class ClientFile(FileModel):
    """A client file (see the module docstring); read with :func:`load_client`."""

    client: ClientTable = Field(description="a [client] table with name and turnover "
                                            "(see experiments/client_example.toml)")
    key_accounts: list[KeyAccountTable] = Field(
        min_length=1, max_length=MAX_KEY_ACCOUNTS,
        description=f"one [[key_accounts]] block per key account, 1 to {MAX_KEY_ACCOUNTS}")
    market: MarketTable = MarketTable()
    sales: SalesTable = SalesTable()
    levers: LeversTable = LeversTable()
    books: BooksTable = BooksTable()
    plan: PlanTable = PlanTable()
    run: RunTable = RunTable()

    @model_validator(mode="after")
    def _accounts_add_up(self) -> Self:
        names = [a.name for a in self.key_accounts]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise Invalid(("key_accounts",), f"name {twice[0]!r} given twice; name each "
                                             "account once")
        total = sum(a.share for a in self.key_accounts)
        if total > 1.0 + 1e-9:
            raise Invalid(("key_accounts",), f"shares sum to {total:g}, allowed (0, 1] (share "
                                             "of the client's turnover)")
        in_place = {k for k, v in self.levers.model_dump().items() if v}
        in_place |= {KPI_MIX} if self.sales.kpi_margin_weight else set()
        for i, name in enumerate(self.plan.combine):
            if name in in_place:
                raise Invalid(("plan", f"combine[{i}]"), f"{name} is already in place; "
                                                         "combine levers not in place")
        if self.sales.lowered_pressure >= self.sales.pressure and \
                LOWER_PRESSURE in self.plan.combine:
            raise Invalid(("plan", "combine"), f"{LOWER_PRESSURE}: sales.lowered_pressure "
                                               f"{self.sales.lowered_pressure:g} is not below "
                                               f"sales.pressure {self.sales.pressure:g}")
        return self

    def as_client(self, source: str = "") -> Client:
        """The client this file describes (``source``: where it was read)."""
        accounts = tuple(KeyAccount(a.name, a.share, a.negotiator,
                                    NEGOTIATORS[a.negotiator] if a.detachment is None
                                    else a.detachment)
                         for a in self.key_accounts)
        levers = {name: float(value) for name, value in sorted(self.levers.model_dump().items())
                  if value}
        return Client(name=self.client.name, turnover=self.client.turnover,
                      currency=self.client.currency, accounts=accounts,
                      suppliers=self.market.suppliers, pressure=self.sales.pressure,
                      kpi_margin_weight=self.sales.kpi_margin_weight,
                      rival_pressure=self.sales.rival_pressure,
                      rivals_levers=self.market.rivals_levers, levers=levers,
                      replications=self.run.replications,
                      map_replications=self.run.map_replications, seed=self.run.seed,
                      horizon_years=self.run.horizon_years, source=source,
                      constants=self.run.constants, draws=self.run.draws,
                      posterior=self.run.posterior, net_margin=self.books.net_margin,
                      gross_margin=self.books.gross_margin, sga_share=self.books.sga_share,
                      lowered_pressure=self.sales.lowered_pressure,
                      combine=tuple(dict.fromkeys(self.plan.combine)))


def load_client(path: str | Path) -> Client:
    """Read and check a client file (TOML; see ``experiments/client_example.toml``).

    Raises:
        ClientFileError: the file cannot be read, is not TOML, has an unknown key, or a
            field out of its range; the one-line message names the file, the field and
            the allowed range.

    """
    path = Path(path)
    text = read_text(path, ClientFileError, "client file")
    doc = parse_toml(text, str(path), ClientFileError)
    client = check(ClientFile, doc, where=str(path), error=ClientFileError).as_client(str(path))
    try:
        client.parameters()  # anything the model itself refuses, refused now
    except ParameterError as exc:
        raise ClientFileError(f"{path}: {exc}") from None
    return client
