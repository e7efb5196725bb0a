"""Columns of the compiled engine's lever table: one row per supplier.

:class:`~kamabm.model.derived.Levers` holds a supplier's levers; the engine passes them
as a ``(suppliers, levers)`` array whose columns follow its fields.
"""

from kamabm.model.derived import LEVER_NAMES

KPI_MARGIN = LEVER_NAMES.index("kpi_margin_weight")
TRAINING = LEVER_NAMES.index("training")
REVIEW = LEVER_NAMES.index("deal_review")
SENIOR = LEVER_NAMES.index("senior_support")
ROTATION = LEVER_NAMES.index("rotation_months")
GROWTH = LEVER_NAMES.index("smb_growth")
