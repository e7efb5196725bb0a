"""Python's and numpy's arithmetic, exactly, for the compiled engine.

The Mesa model sums with Python's ``sum`` (left to right), numpy's ``sum`` and ``mean``
(pairwise) and picks with Python's ``min`` and ``max`` (which keep their first argument
on ties); the functions here do the same, so that floats come out bit-identical.
"""

from __future__ import annotations

import math

import numba
import numpy as np

#: numpy's pairwise summation: blocks of this many numbers are summed with 8 accumulators.
PAIRWISE_BLOCK = 128
UNROLL = 8

#: How every compiled function is compiled: cached on disk (``__pycache__``), Python's
#: error model (a division by zero raises, as in the Mesa model), no fast-math reordering.
jit = numba.njit(cache=True, fastmath=False, error_model="python")


@jit
def py_min(a: float, b: float) -> float:
    """Python's ``min(a, b)``: ``a`` unless ``b`` is smaller."""
    return b if b < a else a


@jit
def py_max(a: float, b: float) -> float:
    """Python's ``max(a, b)``: ``a`` unless ``b`` is larger."""
    return b if b > a else a


@jit
def block_sum(x: np.ndarray, first: int, n: int) -> float:
    """The sum numpy computes of one block, ``x[first:first + n]`` with ``n <= 128``."""
    if n < UNROLL:
        total = -0.0
        for i in range(first, first + n):
            total += x[i]
        return total
    r0, r1, r2, r3 = x[first], x[first + 1], x[first + 2], x[first + 3]
    r4, r5, r6, r7 = x[first + 4], x[first + 5], x[first + 6], x[first + 7]
    i = UNROLL
    whole = n - n % UNROLL
    while i < whole:
        j = first + i
        r0 += x[j]
        r1 += x[j + 1]
        r2 += x[j + 2]
        r3 += x[j + 3]
        r4 += x[j + 4]
        r5 += x[j + 5]
        r6 += x[j + 6]
        r7 += x[j + 7]
        i += UNROLL
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        total += x[first + i]
        i += 1
    return total


@jit
def split_point(n: int) -> int:
    """Where numpy splits ``n`` numbers in two: half of them, down to a multiple of 8."""
    half = n // 2
    return half - half % UNROLL


@jit
def pairwise_sum(x: np.ndarray, first: int, n: int) -> float:
    """The sum numpy computes of ``x[first:first + n]`` (its C ``pairwise_sum``).

    Blocks of up to 128 numbers are summed with 8 accumulators; longer runs are split in
    two (:func:`split_point`) and their sums added. Numpy recurses; this walks the same tree
    with a stack, because numba cannot cache a recursive function.
    """
    if n <= PAIRWISE_BLOCK:
        return block_sum(x, first, n)
    half = split_point(n)
    if n - half <= PAIRWISE_BLOCK:   # two blocks (up to about 256 numbers): no stack
        return block_sum(x, first, half) + block_sum(x, first + half, n - half)
    depth = 64
    start = np.empty(depth, dtype=np.int64)
    size = np.empty(depth, dtype=np.int64)
    waiting = np.zeros(depth, dtype=np.int64)   # 0 new, 1 left half under way, 2 right half
    left = np.empty(depth)
    top = 0
    start[0], size[0] = first, n
    while True:
        if size[top] > PAIRWISE_BLOCK:   # split: the left half first
            waiting[top] = 1
            start[top + 1], size[top + 1], waiting[top + 1] = start[top], split_point(size[top]), 0
            top += 1
            continue
        value = block_sum(x, start[top], size[top])
        top -= 1
        while top >= 0 and waiting[top] == 2:   # both halves done: add them
            value = left[top] + value
            top -= 1
        if top < 0:
            return value
        left[top] = value   # the left half is done: now the right
        waiting[top] = 2
        half = split_point(size[top])
        start[top + 1], size[top + 1], waiting[top + 1] = start[top] + half, size[top] - half, 0
        top += 1


@jit
def np_sum(x: np.ndarray) -> float:
    """``x.sum()`` as numpy computes it."""
    return pairwise_sum(x, 0, len(x))


@jit
def np_mean(x: np.ndarray) -> float:
    """``x.mean()`` as numpy computes it."""
    return np_sum(x) / len(x)


@jit
def logistic(x: float) -> float:
    """:func:`kamabm.model.kam.logistic`."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)
