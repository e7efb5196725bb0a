"""Analysis: a saved results folder read, classified and turned into tables.

Reads what :mod:`kamabm.experiments` saved and computes, with the pure functions of
:mod:`kamabm.stats`, every table the charts and reports draw.
"""
