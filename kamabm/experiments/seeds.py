"""Seeds: every workflow's run seeds and random streams, derived from a master seed here.

One place for :class:`numpy.random.SeedSequence`: a sweep's runs (:mod:`~.design`), an
ensemble's draws (:mod:`~.ensemble`), a screening's design and replications
(:mod:`~.screening`), a calibration's particles (:mod:`~.calibration_fit`) and a
diagnosis's runs and bootstrap (:mod:`kamabm.diagnosis`) all take their numbers from the
functions below. Each function reproduces, bit for bit, the derivation its callers used
before they shared it, so committed results keep their seeds
(``tests/test_seeds.py`` pins a few of each).

A stream is named by a *spawn key*, a tuple of small integers; two keys of different
lengths never give the same stream, which is how the modules keep theirs apart.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def spawned_seed(master: int, key: Sequence[int]) -> int:
    """The seed (``0 .. 2**63 - 1``) of stream ``key`` of ``master``.

    ``SeedSequence(master, spawn_key=key)``'s first 64-bit word, shifted right by one so
    that it fits a signed 64-bit column (a sweep's, a screening's and a diagnosis's runs).
    """
    state = np.random.SeedSequence(master, spawn_key=tuple(key)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))


def spawned_seeds(master: int, key: Sequence[int], n: int) -> list[int]:
    """``n`` seeds: :func:`spawned_seed` of the keys ``(*key, 0)`` to ``(*key, n - 1)``."""
    return [spawned_seed(master, (*key, r)) for r in range(n)]


def spawned_seed32(master: int, key: Sequence[int]) -> int:
    """A seed below ``2**31`` of stream ``key``: its first 32-bit word shifted right by one.

    For libraries that take a 32-bit seed (SALib's Morris sampler).
    """
    state = np.random.SeedSequence(master, spawn_key=tuple(key)).generate_state(1)
    return int(state[0] >> 1)


def spawned_generator(master: int, key: Sequence[int]) -> np.random.Generator:
    """A :class:`numpy.random.Generator` on stream ``key`` of ``master``.

    For what a workflow draws itself: a design's sampler, an ensemble's draws, a
    bootstrap.
    """
    return np.random.default_rng(np.random.SeedSequence(master, spawn_key=tuple(key)))


def entropy_seeds(entropy: Sequence[int], n: int) -> list[int]:
    """``n`` seeds (below ``2**63``) from a :class:`~numpy.random.SeedSequence` of ``entropy``.

    For seeds that depend on content rather than a position, e.g. a calibration
    particle's, from the master seed and the particle's values.
    """
    sequence = np.random.SeedSequence([int(x) for x in entropy])
    return [int(s >> np.uint64(1)) for s in sequence.generate_state(n, np.uint64)]


def entropy_words(entropy: Sequence[int], n: int) -> list[int]:
    """``n`` 32-bit words from a :class:`~numpy.random.SeedSequence` of ``entropy``.

    A random state to seed global generators with (a calibration particle's sampling).
    """
    words = np.random.SeedSequence([int(x) for x in entropy]).generate_state(n)
    return [int(w) for w in words]
