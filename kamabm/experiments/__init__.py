"""Experiments: input files read, designs built, runs executed and kept.

Sits on :mod:`kamabm.model` (through its doors: :func:`kamabm.model.batch.run_many` for
runs, a chunk at a time on the compiled or the Mesa engine, and :mod:`kamabm.model.run`
for the few runs kept month by month) and the pure statistics of :mod:`kamabm.stats`;
knows no agent. Every seed it draws comes from :mod:`~.seeds`.

- :mod:`~.validation` and :mod:`~.files`: input files read by pydantic models, with
  one-line errors naming the key and its allowed range;
- :mod:`~.design` and :mod:`~.ensemble`: an experiment as objects (variables, design,
  runs and their seeds; constant sets drawn from a posterior);
- :mod:`~.seeds`: every workflow's run seeds and random streams, from a master seed;
- :mod:`~.sweep`: the one runner of every workflow that runs the model (sweeps,
  refinement, Sobol designs, ensembles, screenings), with :mod:`~.backends` (where runs
  execute), :mod:`~.lock` (one writer a folder), :mod:`~.store` (writes a results folder
  so it can be resumed), :mod:`~.tables` (reads its tables, verified) and
  :mod:`~.provenance` (which code made them);
- :mod:`~.typical`: the two runs a sweep keeps month by month for its report;
- :mod:`~.refine`: adaptive refinement of a capture boundary;
- :mod:`~.screening`: Morris screening (its runs a sweep of the Morris design);
  :mod:`~.calibration` and :mod:`~.calibration_fit`: the ABC-SMC calibration's file and
  fit (a particle's runs one ``run_many`` call).
"""
