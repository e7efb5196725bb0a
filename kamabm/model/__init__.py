"""The model: parameters, the negotiation protocol, the agents, the market and its one door.

Bottom layer of the package: nothing here imports experiments, analysis or reporting.

- :mod:`~kamabm.model.params`: one typed, validated, immutable parameter object;
- :mod:`~kamabm.model.negotiation`: tactics and alternating offers (pure, no Mesa);
- :mod:`~kamabm.model.account`, :mod:`~kamabm.model.buyer`, :mod:`~kamabm.model.kam`,
  :mod:`~kamabm.model.supplier`: the agents and the account they share;
- :mod:`~kamabm.model.market`: the Mesa model (:class:`KAMMarket`) and its monthly schedule;
- :mod:`~kamabm.model.run`: the single door, ``run_one(params, seed) -> outcomes``.
"""
