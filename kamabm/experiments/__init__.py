"""Experiments: input files read, designs built, runs executed and kept.

Sits on :mod:`kamabm.model` (through its one door, :func:`kamabm.model.run.run_one`) and
the pure statistics of :mod:`kamabm.stats`; knows no agent and draws nothing.

- :mod:`~.validation` and :mod:`~.files`: input files read by pydantic models, with
  one-line errors naming the key and its allowed range;
- :mod:`~.design` and :mod:`~.ensemble`: an experiment as objects (variables, design,
  runs and their seeds; constant sets drawn from a posterior);
- :mod:`~.sweep`: the runner, with :mod:`~.backends` (where runs execute), :mod:`~.lock`
  (one writer a folder), :mod:`~.store` (writes a results folder so it can be resumed),
  :mod:`~.tables` (reads its tables, verified) and :mod:`~.provenance` (which code made
  them);
- :mod:`~.typical`: the two runs a sweep keeps month by month for its report;
- :mod:`~.refine`: adaptive refinement of a capture boundary;
- :mod:`~.screening`: Morris screening; :mod:`~.calibration` and :mod:`~.calibration_fit`:
  the ABC-SMC calibration's file and fit.
"""
