#!/usr/bin/python3
"""Independent float64 reference values for @traitlens/extraction's methods and evaluation.

Run by hand with Debian's python3 (python3-numpy, python3-scipy, python3-sklearn):

    /usr/bin/python3 tools/extraction/make-reference-fixtures.py

It writes packages/extraction/src/__fixtures__/reference/*.json, which the TypeScript tests compare
against, so CI needs no Python. Inputs are generated here, rounded to float32 (what the TypeScript side
stores), and written into the fixtures next to the expected outputs.

References:
- probe: sklearn.linear_model.LogisticRegression(C=1, lbfgs) on rows scaled by 1/(|x| + 1e-8), fitted
  once with a tight tolerance (the exact optimum) and once with sklearn's defaults (what the study ran).
- pca_diff: numpy SVD of the paired differences (uncentred), sign aligned to the positives.
- gradient / random_baseline: the same seeded generator as TypeScript (mulberry32 + Box-Muller) and Adam
  written out in numpy.
- evaluation: numpy statistics, scipy.stats.ttest_ind, sklearn.metrics.roc_auc_score.
"""

import json
import math
import os

import numpy as np
import scipy
import scipy.optimize
import scipy.special
import scipy.stats
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "packages", "extraction", "src", "__fixtures__", "reference")


def mulberry32(seed):
    state = seed & 0xFFFFFFFF
    spare = None

    def imul(a, b):
        return (a * b) & 0xFFFFFFFF

    def uniform():
        nonlocal state
        state = (state + 0x6D2B79F5) & 0xFFFFFFFF
        t = state
        t = imul(t ^ (t >> 15), t | 1)
        t = (t ^ ((t + imul(t ^ (t >> 7), t | 61)) & 0xFFFFFFFF)) & 0xFFFFFFFF
        return ((t ^ (t >> 14)) & 0xFFFFFFFF) / 4294967296

    def normal():
        nonlocal spare
        if spare is not None:
            value, spare = spare, None
            return value
        radius = math.sqrt(-2 * math.log(1 - uniform()))
        angle = 2 * math.pi * uniform()
        spare = radius * math.sin(angle)
        return radius * math.cos(angle)

    return uniform, normal


def seeded_normals(length, seed, scale=1.0):
    _, normal = mulberry32(seed)
    return np.array([normal() * scale for _ in range(length)], dtype=np.float64)


def unit(v):
    return v / np.linalg.norm(v)


def mean_diff(pos, neg):
    return unit(pos.mean(0) - neg.mean(0))


def probe(pos, neg, tight):
    x = np.concatenate([pos, neg])
    y = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    xn = x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-8)
    if tight:
        model = LogisticRegression(C=1.0, tol=1e-12, max_iter=100000)
    else:
        model = LogisticRegression(C=1.0, max_iter=1000, random_state=42)
    model.fit(xn, y)
    coef, intercept = model.coef_[0], model.intercept_[0]
    if tight:
        # lbfgs stops on a relative objective change of 64 eps, leaving ~1e-6 in the coefficients; polish
        # sklearn's solution of the same objective with scipy's exact-Hessian trust region.
        coef, intercept = polish_logistic_regression(xn, y, coef, intercept)
    accuracy = float(np.mean(((xn @ coef + intercept) > 0) == (y > 0)))
    return {
        "vector": unit(coef).tolist(),
        "bias": float(intercept),
        "coefficientNorm": float(np.linalg.norm(coef)),
        "trainAccuracy": accuracy,
    }


def polish_logistic_regression(x, y, coef, intercept, c=1.0):
    signs = 2 * y - 1
    design = np.hstack([x, np.ones((len(x), 1))])
    penalty = np.ones(design.shape[1])
    penalty[-1] = 0  # the intercept is not penalised, as in sklearn

    def objective(theta):
        margins = signs * (design @ theta)
        return c * np.sum(np.logaddexp(0, -margins)) + 0.5 * np.sum(penalty * theta**2)

    def gradient(theta):
        margins = signs * (design @ theta)
        return c * design.T @ (-signs * scipy.special.expit(-margins)) + penalty * theta

    def hessian(theta):
        p = scipy.special.expit(design @ theta)
        return c * (design.T * (p * (1 - p))) @ design + np.diag(penalty)

    start = np.concatenate([coef, [intercept]])
    result = scipy.optimize.minimize(objective, start, jac=gradient, hess=hessian, method="trust-exact", options={"gtol": 1e-13})
    assert np.max(np.abs(gradient(result.x))) < 1e-9, result
    return result.x[:-1], result.x[-1]


def pca_diff(pos, neg):
    m = min(len(pos), len(neg))
    diffs = pos[:m] - neg[:m]
    _, s, vt = np.linalg.svd(diffs, full_matrices=False)
    v = vt[0]
    if (pos.mean(0) - neg.mean(0)) @ v < 0:
        v = -v
    return {"vector": v.tolist(), "explainedVarianceRatio": float(s[0] ** 2 / np.sum(s**2))}


def gradient(pos, neg, steps=100, lr=0.01, reg=0.01, init_scale=0.1, seed=0):
    diff = pos.mean(0) - neg.mean(0)
    v = seeded_normals(len(diff), seed, init_scale)
    m = np.zeros_like(v)
    s = np.zeros_like(v)
    for t in range(1, steps + 1):
        norm = np.linalg.norm(v)
        scale = norm + 1e-8
        u = v / norm
        along = diff @ v / scale
        g = -diff / scale + along * u / scale + reg * u
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * g * g
        v = v - lr * (m / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
    v = unit(v)
    if diff @ v < 0:
        v = -v
    return {"vector": v.tolist(), "finalSeparation": float(diff @ v)}


def random_baseline(dimensions, seed=0):
    return {"vector": unit(seeded_normals(dimensions, seed)).tolist()}


def cosines(x, v):
    return (x @ v) / (np.linalg.norm(x, axis=1) * np.linalg.norm(v))


def metrics(p, n):
    pm, nm = p.mean(), n.mean()
    ps, ns = p.std(ddof=1), n.std(ddof=1)
    threshold = (pm + nm) / 2
    accuracy = ((p > threshold).mean() + (n <= threshold).mean()) / 2
    d = (pm - nm) / math.sqrt((ps**2 + ns**2) / 2)
    labels = np.concatenate([np.ones(len(p)), np.zeros(len(n))])
    return {
        "positiveMean": float(pm),
        "negativeMean": float(nm),
        "positiveStandardDeviation": float(ps),
        "negativeStandardDeviation": float(ns),
        "threshold": float(threshold),
        "accuracy": float(accuracy),
        "meanGap": float(abs(pm - nm)),
        "cohensD": float(d),
        "pValue": float(scipy.stats.ttest_ind(p, n).pvalue),
        "polarityCorrect": bool(pm > nm),
        "auroc": float(roc_auc_score(labels, np.concatenate([p, n]))),
        "overlap": float(max(0.0, 1 - abs(d) / 4)),
        "margin": float((pm - ps) - (nm + ns)),
    }


def make_case(name, rng, n_pos, n_neg, n_val, dims, signal, noise, offset):
    direction = unit(rng.standard_normal(dims))
    base = rng.standard_normal(dims) * offset

    def rows(count, strength):
        scales = strength * (0.5 + rng.random(count))
        x = base + noise * rng.standard_normal((count, dims)) + scales[:, None] * direction
        return x.astype(np.float32).astype(np.float64)

    train_pos, train_neg = rows(n_pos, signal), rows(n_neg, 0.0)
    val_pos, val_neg = rows(n_val, signal), rows(n_val, 0.0)
    vectors = {
        "mean_diff": {"vector": mean_diff(train_pos, train_neg).tolist()},
        "probe": probe(train_pos, train_neg, tight=True),
        "pca_diff": pca_diff(train_pos, train_neg),
        "gradient": gradient(train_pos, train_neg),
        "random_baseline": random_baseline(dims),
    }
    evaluation = {}
    for method, result in vectors.items():
        v = np.array(result["vector"])
        train_metrics = metrics(cosines(train_pos, v), cosines(train_neg, v))
        midpoint = (train_pos.mean(0) + train_neg.mean(0)) / 2
        evaluation[method] = {
            "validation": metrics(cosines(val_pos, v), cosines(val_neg, v)),
            "trainAccuracy": train_metrics["accuracy"],
            "baseline": float(midpoint @ v / np.linalg.norm(v)),
        }
    all_rows = np.concatenate([train_pos, train_neg, val_pos, val_neg])
    return {
        "name": name,
        "dimensions": dims,
        "train": {"positive": train_pos.tolist(), "negative": train_neg.tolist()},
        "validation": {"positive": val_pos.tolist(), "negative": val_neg.tolist()},
        "vectors": vectors,
        "probeWithSklearnDefaults": probe(train_pos, train_neg, tight=False),
        "evaluation": evaluation,
        "activationNorm": float(np.linalg.norm(all_rows, axis=1).mean()),
    }


def statistics_cases(rng):
    t_cases = []
    for t, df in [(0.0, 10), (0.5, 3), (-2.1, 7), (2.0, 30), (4.5, 12), (12.0, 40), (40.0, 200), (-80.0, 58), (1e-3, 1)]:
        t_cases.append({"t": t, "degreesOfFreedom": df, "pValue": float(2 * scipy.stats.t.sf(abs(t), df))})
    samples = []
    for a, b in [(rng.normal(0, 1, 12), rng.normal(0.8, 1.5, 9)), (rng.normal(5, 0.1, 40), rng.normal(3, 0.1, 35))]:
        samples.append({"first": a.tolist(), "second": b.tolist(), "pValue": float(scipy.stats.ttest_ind(a, b).pvalue)})
    tied_pos = [0.1, 0.2, 0.2, 0.5, 0.9, 0.9]
    tied_neg = [0.0, 0.2, 0.2, 0.3, 0.9, -1.0, 0.5]
    labels = [1] * len(tied_pos) + [0] * len(tied_neg)
    return {
        "studentT": t_cases,
        "tTestSamples": samples,
        "auroc": [{"positive": tied_pos, "negative": tied_neg, "auroc": float(roc_auc_score(labels, tied_pos + tied_neg))}],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    cases = [
        # More samples than dimensions, overlapping classes: a unique, well-conditioned probe optimum.
        make_case("tall", rng, n_pos=30, n_neg=26, n_val=10, dims=12, signal=1.5, noise=1.0, offset=2.0),
        # n << D with a large shared offset, like residual streams.
        make_case("wide", rng, n_pos=16, n_neg=14, n_val=6, dims=96, signal=4.0, noise=1.0, offset=5.0),
    ]
    versions = {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__}
    for case in cases:
        case["generatedWith"] = versions
        with open(os.path.join(OUT, f"methods-{case['name']}.json"), "w") as handle:
            json.dump(case, handle)
    stats = statistics_cases(rng)
    stats["generatedWith"] = versions
    with open(os.path.join(OUT, "statistics.json"), "w") as handle:
        json.dump(stats, handle, indent=1)
    print(f"wrote {len(cases) + 1} fixtures to {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
