#!/usr/bin/python3
"""Same-run baseline for packages/extraction/bench: numpy Gram matrix and mean difference, and the
study's probe (sklearn LogisticRegression(C=1), lbfgs, on row-normalised activations), timed on random
data of the given shape. Prints one JSON line of median milliseconds (gram_cpu_ms: process CPU time).
Single-threaded BLAS to match (the bench sets OPENBLAS_NUM_THREADS=1 and unsets OPENBLAS_CORETYPE)."""

import argparse
import json
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402


def median_ms(work, repeats=3, clock=time.perf_counter):
    times = []
    for _ in range(repeats):
        start = clock()
        work()
        times.append((clock() - start) * 1000)
    return sorted(times)[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=240)
    parser.add_argument("--hidden", type=int, default=8192)
    parser.add_argument("--validation", type=int, default=60)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    direction = rng.standard_normal(args.hidden) / np.sqrt(args.hidden)
    x = (rng.standard_normal((args.samples, args.hidden)) + 2 * rng.standard_normal(args.hidden)).astype(np.float32)
    x[: args.samples // 2] += 8 * direction.astype(np.float32)
    y = np.r_[np.ones(args.samples // 2), np.zeros(args.samples - args.samples // 2)]
    x64 = x.astype(np.float64)

    def probe():
        xn = x64 / (np.linalg.norm(x64, axis=1, keepdims=True) + 1e-8)
        LogisticRegression(C=1.0, max_iter=1000).fit(xn, y)

    result = {
        "gram_ms": median_ms(lambda: x64 @ x64.T),
        # CPU time of the process (one BLAS thread): less sensitive than wall time to other jobs' load.
        "gram_cpu_ms": median_ms(lambda: x64 @ x64.T, repeats=5, clock=time.process_time),
        "gram_float32_ms": median_ms(lambda: x @ x.T),
        "mean_diff_ms": median_ms(lambda: x64[y == 1].mean(0) - x64[y == 0].mean(0)),
        "sklearn_probe_ms": median_ms(probe),
        "blas": str(np.__config__.get_info("blas_opt_info").get("libraries", "unknown")) if hasattr(np.__config__, "get_info") else "unknown",
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
