"""Constants of observation and of units: how the model is read, not what agents do.

Each is a named number that outcomes, charts and the books share; none shapes behaviour.
"""

#: Months in a calendar year: the unit of yearly rates (price-cut targets, fees) and of
#: the books' years (a unit conversion, not behaviour).
MONTHS_PER_YEAR = 12
#: The month at which "five-year" outcomes are read, and before which a run never stops
#: early: the horizon of the transient maps (an observation choice, not behaviour).
FIVE_YEARS = 60
#: Alignment below which a KAM counts as captured (between the two stable states). This
#: is how the model is *observed*, not a rule agents follow; outcomes are also reported at
#: thresholds 0.3 to 0.7 (``kamabm.model.run.CAPTURE_THRESHOLDS``).
CAPTURED_BELOW = 0.5
#: Months at the end of a run over which its margins, its key-account share and its
#: customers' profits are read ("the last 12 months"): one KPI year at the defaults, but
#: an observation window, not behaviour (``kpi_months`` may differ).
LAST_YEAR = 12
