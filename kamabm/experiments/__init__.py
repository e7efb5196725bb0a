"""Experiments: designs read from files, and the machinery that runs and keeps them.

Sits on :mod:`kamabm.model` (through its one door) and the pure statistics of
:mod:`kamabm.stats`; knows no agent. Designs and their files (:mod:`~.design`), the
sweep runner (:mod:`~.sweep`), its backends, store and folder lock, adaptive refinement of
a boundary (:mod:`~.refine`), Morris screening and ABC-SMC calibration.
"""
