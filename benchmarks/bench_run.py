"""Benchmark of one model run and of one negotiation (not a test: prints medians).

Usage: python benchmarks/bench_run.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import time

from kamabm import Parameters, run_one
from kamabm.negotiation import Side, alternating_offers


def median_seconds(fn, repeats: int) -> float:
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    default = Parameters()
    run_one(default, 0)  # warm up imports and caches
    run = median_seconds(lambda i: run_one(default, i), args.repeats)
    print(f"default run ({default.horizon_months} months, {default.n_suppliers} suppliers, "
          f"{default.n_key_buyers} key buyers, {default.n_suppliers * default.n_key_buyers} KAMs, "
          f"{default.n_smb_clients} SMB clients each): median {1e3 * run:.2f} ms, "
          f"{1 / run:.0f} runs/s on one core")

    seller = Side(1.4, 1.14, 2.0, 0.9, 0.8)
    buyer = Side(1.1, 1.25, 0.2, 0.99, 0.0)
    nego = median_seconds(lambda i: [alternating_offers(seller, buyer, 8) for _ in range(100)],
                          args.repeats) / 100
    print(f"one negotiation (8 rounds, tit-for-tat seller vs Boulware buyer): "
          f"median {1e6 * nego:.1f} us")


if __name__ == "__main__":
    main()
