"""Columns of the compiled engine's lever table: one row per supplier, in :class:`Levers`' order.

:class:`~kamabm.model.supplier.Levers` holds a supplier's levers; the engine passes them
as a ``(suppliers, 6)`` array with these columns.
"""

#: The lever columns, in the order of :class:`~kamabm.model.supplier.Levers`' fields.
LEVERS = ("kpi_margin_weight", "training", "deal_review", "senior_support",
          "rotation_months", "smb_growth")
KPI_MARGIN, TRAINING, REVIEW, SENIOR, ROTATION, GROWTH = range(len(LEVERS))
