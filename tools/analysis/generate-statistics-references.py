#!/usr/bin/python3
"""Reference values for @traitlens/analysis statistics, computed once with numpy/scipy/sklearn.

Run by hand with Debian's Python (python3-numpy, python3-scipy, python3-sklearn):
    /usr/bin/python3 tools/analysis/generate-statistics-references.py
It writes packages/analysis/src/stats/__fixtures__/statistics-references.json, which the tests read, so CI
needs no Python. The seeded parts (bootstrap, permutation test, folds) port traitlens' mulberry32
generator bit for bit so both sides draw the same resamples; everything computed on those draws uses
numpy/scipy/sklearn.
"""
import math
import os

import numpy as np
import scipy
import scipy.stats as st
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve

from reference_support import STATS_FIXTURES, Mulberry32, floats, write_references

OUT = os.path.join(STATS_FIXTURES, 'statistics-references.json')


def cohens_d(a, b):
    return (np.mean(a) - np.mean(b)) / np.sqrt((np.var(a, ddof=1) + np.var(b, ddof=1)) / 2)


def main():
    rng = np.random.RandomState(20240607)
    a = rng.normal(0.3, 1.2, 37)
    b = rng.normal(0.0, 0.8, 41)
    x = rng.normal(1.0, 1.0, 30)
    y = x - rng.normal(0.4, 0.7, 30)

    welch = st.ttest_ind(a, b, equal_var=False)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    welch_df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    paired = st.ttest_rel(x, y)
    differences = x - y

    cx = rng.normal(0, 1, 50)
    cy = 0.6 * cx + rng.normal(0, 1, 50)
    pearson = st.pearsonr(cx, cy)
    labels = (rng.uniform(size=60) < 0.4).astype(int)
    values = labels * 0.8 + rng.normal(0, 1, 60)
    biserial = st.pointbiserialr(labels, values)

    roc_labels = (rng.uniform(size=80) < 0.45).astype(int)
    roc_scores = np.round(roc_labels * 0.7 + rng.normal(0, 1, 80), 1)  # rounding makes ties
    fpr, tpr, _ = roc_curve(roc_labels, roc_scores, drop_intermediate=False)

    features = rng.normal(0, 1, (120, 4))
    true_w = np.array([1.5, -0.8, 0.0, 0.4])
    logits = features @ true_w + 0.3
    lr_labels = (rng.uniform(size=120) < 1 / (1 + np.exp(-logits))).astype(int)
    logistic = []
    for c in (1.0, 0.3):
        model = LogisticRegression(C=c, solver='newton-cholesky', tol=1e-14, max_iter=1000).fit(features, lr_labels)
        logistic.append({
            'C': c,
            'coefficients': floats(model.coef_[0]),
            'intercept': float(model.intercept_[0]),
            'probabilities': floats(model.predict_proba(features)[:, 1]),
        })

    quantile_values = rng.normal(0, 1, 23)
    quantile_qs = [0.0, 0.025, 0.25, 0.5, 0.9, 0.975, 1.0]

    t_grid = [(-3.2, 4.0), (-1.0, 10.0), (0.0, 7.0), (0.5, 2.5), (2.1, 30.0), (-6.5, 75.3), (1.96, 1000.0), (-12.0, 5.0)]
    normal_grid = [-4.0, -1.96, -0.5, 0.0, 0.3, 1.2816, 3.0]
    quantile_grid = [1e-6, 0.025, 0.1, 0.5, 0.8, 0.975, 0.999999]

    # Bootstrap: the same resample indices as computeBootstrapConfidenceIntervals(seed=7), statistics by numpy.
    bootstrap_random = Mulberry32(7)
    resamples = 200
    boot_mean, boot_paired_d = [], []
    n_pairs = len(x)
    for _ in range(resamples):
        idx = np.array([bootstrap_random.next_integer(n_pairs) for _ in range(n_pairs)])
        boot_mean.append(np.mean(x[idx]))
        d = differences[idx]
        boot_paired_d.append(np.mean(d) / np.std(d, ddof=1))
    bootstrap = {
        'seed': 7,
        'resamples': resamples,
        'confidence': 0.9,
        'mean': floats(np.quantile(boot_mean, [0.05, 0.95])),
        'pairedD': floats(np.quantile(boot_paired_d, [0.05, 0.95])),
    }

    # Permutation test of AUROC, seed 11, statistic by sklearn.
    perm_random = Mulberry32(11)
    permutations = 300
    shuffled = labels.astype(float).copy()
    observed = roc_auc_score(labels, values)
    null = []
    for _ in range(permutations):
        as_list = list(shuffled)
        perm_random.shuffle(as_list)
        shuffled = np.array(as_list)
        null.append(roc_auc_score(shuffled.astype(int), values))
    null = np.sort(np.array(null))
    permutation = {
        'seed': 11,
        'permutations': permutations,
        'observed': float(observed),
        'pValue': float((1 + np.sum(null >= observed)) / (1 + permutations)),
        'nullMean': float(np.mean(null)),
        'null95': float(null[min(permutations - 1, math.ceil(0.95 * permutations) - 1)]),
    }

    # Stratified folds and Gaussian draws, ported.
    fold_random = Mulberry32(3)
    assignment = [0] * len(labels)
    nxt = 0
    for label in (0, 1):
        members = [i for i, v in enumerate(labels) if v == label]
        fold_random.shuffle(members)
        for index in members:
            assignment[index] = nxt
            nxt = (nxt + 1) % 5
    gaussian_random = Mulberry32(42)
    gaussians = [gaussian_random.next_gaussian() for _ in range(7)]
    uniform_random = Mulberry32(1)
    uniforms = [uniform_random.next_float() for _ in range(5)]

    out = {
        'generator': 'tools/analysis/generate-statistics-references.py',
        'versions': {'numpy': np.__version__, 'scipy': scipy.__version__, 'sklearn': sklearn.__version__},
        'samples': {'a': floats(a), 'b': floats(b), 'x': floats(x), 'y': floats(y)},
        'descriptive': {
            'meanA': float(np.mean(a)), 'varianceA': float(np.var(a, ddof=1)), 'sdA': float(np.std(a, ddof=1)),
            'meanB': float(np.mean(b)), 'sdB': float(np.std(b, ddof=1)),
        },
        'cohensD': float(cohens_d(a, b)),
        'pairedCohensD': float(np.mean(differences) / np.std(differences, ddof=1)),
        'welch': {'t': float(welch.statistic), 'p': float(welch.pvalue), 'degreesOfFreedom': float(welch_df)},
        'pairedT': {'t': float(paired.statistic), 'p': float(paired.pvalue), 'degreesOfFreedom': len(x) - 1},
        'pearson': {'x': floats(cx), 'y': floats(cy), 'r': float(pearson[0]), 'p': float(pearson[1])},
        'pointBiserial': {'labels': [int(v) for v in labels], 'values': floats(values), 'r': float(biserial[0]), 'p': float(biserial[1])},
        'roc': {
            'labels': [int(v) for v in roc_labels], 'scores': floats(roc_scores),
            'falsePositiveRates': floats(fpr), 'truePositiveRates': floats(tpr),
            'auroc': float(roc_auc_score(roc_labels, roc_scores)),
        },
        'logistic': {'features': [floats(row) for row in features], 'labels': [int(v) for v in lr_labels], 'fits': logistic},
        'quantile': {'values': floats(quantile_values), 'qs': quantile_qs, 'expected': floats(np.quantile(quantile_values, quantile_qs))},
        'tCdf': [{'t': t, 'df': df, 'cdf': float(st.t.cdf(t, df)), 'twoSidedP': float(2 * st.t.sf(abs(t), df))} for t, df in t_grid],
        'normalCdf': [{'x': v, 'cdf': float(st.norm.cdf(v))} for v in normal_grid],
        'normalQuantile': [{'p': p, 'quantile': float(st.norm.ppf(p))} for p in quantile_grid],
        'bootstrap': bootstrap,
        'permutation': permutation,
        'folds': {'k': 5, 'seed': 3, 'assignment': assignment},
        'random': {'gaussianSeed42': gaussians, 'uniformSeed1': uniforms},
    }
    write_references(OUT, out)


if __name__ == '__main__':
    main()
