"""Reporting: charts, the executive summary, the HTML report and the slide deck.

Draws the tables of :mod:`kamabm.analysis`; computes none and runs no model.
"""
