#!/usr/bin/python3
"""Reference values for the inference layer of @traitlens/analysis (paired rank test, multiple comparisons,
random-direction null, grouped and nested cross-validation, within-group permutations, cluster bootstrap).

Run by hand with Debian's Python (python3-numpy, python3-scipy, python3-sklearn):
    /usr/bin/python3 tools/analysis/generate-inference-references.py
It writes packages/analysis/src/stats/__fixtures__/inference-references.json, which the tests read, so CI
needs no Python. Seeded draws (directions, permutations, bootstrap resamples) port traitlens' mulberry32
generator bit for bit (as generate-statistics-references.py does); every statistic computed on those draws
uses scipy/sklearn/numpy. scipy 1.10 has no false_discovery_control and statsmodels is not packaged here,
so Holm and Benjamini-Hochberg are written out below from their definitions (statsmodels' algorithm).
The stratified group fold assignment is traitlens' own rule (documented in group-folds.ts), ported here;
the models fitted on those folds are sklearn's.
"""
import math
import os

import numpy as np
import scipy
import scipy.stats as st
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut
from sklearn.preprocessing import StandardScaler

from reference_support import STATS_FIXTURES, Mulberry32, floats, write_references

OUT = os.path.join(STATS_FIXTURES, 'inference-references.json')


def holm(p):
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind='stable')
    m = len(p)
    out = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


def benjamini_hochberg(p):
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind='stable')
    m = len(p)
    out = np.empty(m)
    running = 1.0
    for rank in range(m - 1, -1, -1):
        index = order[rank]
        running = min(running, p[index] * m / (rank + 1))
        out[index] = min(1.0, running)
    return out


def stratified_group_folds(groups, labels, folds):
    """traitlens' createStratifiedGroupFolds, ported."""
    ids = sorted(set(groups))
    counts = {g: [0, 0] for g in ids}
    totals = [0, 0]
    for g, y in zip(groups, labels):
        counts[g][int(y)] += 1
        totals[int(y)] += 1
    order = sorted(ids, key=lambda g: (-(counts[g][0] + counts[g][1]), g))
    load = [[0, 0] for _ in range(folds)]
    fold_of = {}
    share = lambda c, label: 0 if totals[label] == 0 else c / totals[label]
    for g in order:
        neg, pos = counts[g]
        best, best_cost = 0, math.inf
        for f in range(folds):
            cost = 0.0
            for h in range(folds):
                extra = 1 if h == f else 0
                cost += (share(load[h][0] + extra * neg, 0) - 1 / folds) ** 2
                cost += (share(load[h][1] + extra * pos, 1) - 1 / folds) ** 2
            if cost < best_cost - 1e-12:
                best, best_cost = f, cost
        load[best][0] += neg
        load[best][1] += pos
        fold_of[g] = best
    return [fold_of[g] for g in groups]


def fit_predict(features, labels, train, test):
    y_train = labels[train]
    if y_train.min() == y_train.max():
        return np.full(len(test), 0.5)
    scaler = StandardScaler().fit(features[train])
    model = LogisticRegression(C=1.0, solver='newton-cholesky', tol=1e-14, max_iter=1000)
    model.fit(scaler.transform(features[train]), y_train)
    return model.predict_proba(scaler.transform(features[test]))[:, 1]


def within_group_auroc(scores, labels, groups):
    """Pairs within one group only: sklearn's AUROC per group, weighted by positives x negatives."""
    weighted, pairs = 0.0, 0
    for g in sorted(set(groups)):
        mask = np.asarray(groups) == g
        y = np.asarray(labels)[mask]
        positives = int(y.sum())
        negatives = len(y) - positives
        if positives == 0 or negatives == 0:
            continue
        weighted += roc_auc_score(y, np.asarray(scores)[mask]) * positives * negatives
        pairs += positives * negatives
    return weighted / pairs if pairs else float('nan')


def logo_cv_auroc(features, labels, groups):
    probabilities = np.full(len(labels), np.nan)
    for train, test in LeaveOneGroupOut().split(features, labels, groups):
        probabilities[test] = fit_predict(features, labels, train, test)
    return within_group_auroc(probabilities, labels, groups), probabilities


def main():
    rng = np.random.RandomState(20261207)

    # Wilcoxon signed-rank: exact (n <= 50, no ties), normal approximation (n > 50), ties and zeros (approx).
    x_exact = rng.normal(0.4, 1.0, 20)
    y_exact = rng.normal(0.0, 1.0, 20)
    x_large = rng.normal(0.15, 1.0, 80)
    y_large = rng.normal(0.0, 1.0, 80)
    x_ties = np.round(rng.normal(0.3, 1.0, 30), 1)
    y_ties = np.round(rng.normal(0.0, 1.0, 30), 1)
    y_ties[:3] = x_ties[:3]  # zero differences
    wilcoxon = []
    for name, x, y, method in (('exact', x_exact, y_exact, 'exact'), ('normal', x_large, y_large, 'approx'),
                               ('ties', x_ties, y_ties, 'approx')):
        result = st.wilcoxon(x, y, method=method)
        wilcoxon.append({'name': name, 'a': floats(x), 'b': floats(y), 'statistic': float(result.statistic),
                         'p': float(result.pvalue), 'method': 'exact' if method == 'exact' else 'normal'})

    # Multiple comparisons, with ties among the p-values.
    p_family = np.concatenate([rng.uniform(0, 0.05, 8), rng.uniform(0, 1, 15), [0.01, 0.01]])
    adjusted = {'p': floats(p_family), 'holm': floats(holm(p_family)), 'benjaminiHochberg': floats(benjamini_hochberg(p_family))}

    # Random-direction null: per-prompt summaries (n prompts x L layers x D) of A and B, directions drawn
    # with the ported generator exactly as createRandomDirections draws them (seed + 0x5f3759df).
    n, layers, width, count, seed = 24, 3, 16, 200, 5
    summaries_a = rng.normal(0, 1, (n, layers, width))
    shift = np.zeros(width)
    shift[0] = 0.5
    summaries_b = summaries_a + rng.normal(0, 0.5, (n, layers, width)) + shift
    generator = Mulberry32((seed + 0x5F3759DF) & 0xFFFFFFFF)
    directions = np.array([[generator.next_gaussian() for _ in range(width)] for _ in range(count)])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    directions = directions.astype(np.float32).astype(np.float64)  # traitlens stores them as float32
    # Per layer a signed permutation M_l (Fisher-Yates from the end, then one sign per coordinate):
    # direction r at layer l is M_l u_r, with (M_l u)[perm[j]] = signs[j] u[j].
    proj_a = np.empty((n, layers, count))
    proj_b = np.empty((n, layers, count))
    for l in range(layers):
        perm = list(range(width))
        for i in range(width - 1, 0, -1):
            j = generator.next_integer(i + 1)
            perm[i], perm[j] = perm[j], perm[i]
        signs = np.array([-1.0 if generator.next_float() < 0.5 else 1.0 for _ in range(width)])
        layer_directions = np.zeros_like(directions)
        layer_directions[:, perm] = directions * signs
        proj_a[:, l, :] = summaries_a[:, l, :] @ layer_directions.T
        proj_b[:, l, :] = summaries_b[:, l, :] @ layer_directions.T
    differences = proj_b - proj_a
    paired_d = np.abs(differences.mean(axis=0) / differences.std(axis=0, ddof=1))  # L x R
    maxima = paired_d.max(axis=0)
    pooled = np.sqrt((proj_a.var(axis=0, ddof=1) + proj_b.var(axis=0, ddof=1)) / 2)
    cohens_d = np.abs((proj_b.mean(axis=0) - proj_a.mean(axis=0)) / pooled)  # L x R
    observed = 1.1
    null = {
        'seed': seed, 'count': count, 'width': width, 'layers': layers, 'prompts': n,
        'summariesA': floats(summaries_a), 'summariesB': floats(summaries_b),
        'firstDirection': floats(directions[0]),
        'perLayerMedian': floats(np.quantile(paired_d, 0.5, axis=1)),
        'perLayerQ95': floats(np.quantile(paired_d, 0.95, axis=1)),
        'maxOverLayersQ95': float(np.quantile(maxima, 0.95)),
        'observed': observed,
        'empiricalP': float((1 + np.sum(maxima >= observed)) / (1 + count)),
        'bestOfThree': float(1 - (1 - (1 + np.sum(maxima >= observed)) / (1 + count)) ** 3),
        'cohensD': {
            'perLayerQ95': floats(np.quantile(cohens_d, 0.95, axis=1)),
            'maxOverLayersQ95': float(np.quantile(cohens_d.max(axis=0), 0.95)),
            'empiricalP': float((1 + np.sum(cohens_d.max(axis=0) >= 0.3)) / (1 + count)),
        },
    }

    # Folds: leave-one-group-out and GroupKFold from sklearn (group sizes distinct, so no tie order).
    fold_groups = np.repeat([3, 11, 7, 5, 9, 2], [9, 4, 7, 12, 3, 6])
    gkf = np.empty(len(fold_groups), dtype=int)
    for f, (_, test) in enumerate(GroupKFold(n_splits=3).split(fold_groups, groups=fold_groups)):
        gkf[test] = f
    logo = np.empty(len(fold_groups), dtype=int)
    for f, (_, test) in enumerate(LeaveOneGroupOut().split(fold_groups, groups=fold_groups)):
        logo[test] = f
    fold_labels = (rng.uniform(size=len(fold_groups)) < 0.4).astype(int)
    folds = {'groups': [int(g) for g in fold_groups], 'labels': [int(v) for v in fold_labels],
             'groupKFold3': [int(v) for v in gkf], 'leaveOneGroupOut': [int(v) for v in logo],
             'stratifiedGroupKFold3': stratified_group_folds(list(fold_groups), list(fold_labels), 3)}

    # Nested CV: 6 groups each holding both classes -> leave-one-group-out outside and inside.
    rows = 72
    cv_groups = np.repeat([1, 2, 3, 4, 5, 6], 12)
    cv_labels = np.tile([0, 1], 36)
    cv_layers = []
    for strength in (0.0, 1.2, 0.5):
        features = rng.normal(0, 1, (rows, 3))
        features[:, 0] += strength * cv_labels
        features += 0.8 * rng.normal(0, 1, (6, 3))[cv_groups - 1]  # group topic
        cv_layers.append(features)
    nested_probabilities = np.full(rows, np.nan)
    selected = []
    for train, test in LeaveOneGroupOut().split(cv_layers[0], cv_labels, cv_groups):
        scores = [logo_cv_auroc(f[train], cv_labels[train], cv_groups[train])[0] for f in cv_layers]
        best = int(np.argmax(scores))
        selected.append(best)
        nested_probabilities[test] = fit_predict(cv_layers[best], cv_labels, train, test)
    per_layer = [logo_cv_auroc(f, cv_labels, cv_groups)[0] for f in cv_layers]
    nested = {
        'groups': [int(g) for g in cv_groups], 'labels': [int(v) for v in cv_labels],
        'layers': [[floats(row) for row in f] for f in cv_layers],
        'perLayerAuroc': floats(per_layer), 'selected': selected,
        'probabilities': floats(nested_probabilities),
        'auroc': float(within_group_auroc(nested_probabilities, cv_labels, cv_groups)),
    }

    # Within-group permutation test of a fixed score's AUROC (labels shuffled inside groups, ascending ids).
    perm_scores = rng.normal(0, 1, rows) + 0.5 * cv_labels
    generator = Mulberry32(13)
    shuffled = cv_labels.astype(float).copy()
    positions = [np.flatnonzero(cv_groups == g) for g in sorted(set(cv_groups))]
    observed_auroc = roc_auc_score(cv_labels, perm_scores)
    null_values = []
    for _ in range(200):
        for members in positions:
            for i in range(len(members) - 1, 0, -1):
                j = generator.next_integer(i + 1)
                shuffled[members[i]], shuffled[members[j]] = shuffled[members[j]], shuffled[members[i]]
        null_values.append(roc_auc_score(shuffled.astype(int), perm_scores))
    null_values = np.sort(null_values)
    permutation = {'seed': 13, 'permutations': 200, 'scores': floats(perm_scores), 'observed': float(observed_auroc),
                   'pValue': float((1 + np.sum(null_values >= observed_auroc)) / 201), 'nullMean': float(np.mean(null_values)),
                   'null95': float(null_values[math.ceil(0.95 * 200) - 1])}

    # Two-stage cluster bootstrap of the within-group AUROC: groups drawn with replacement, then prompts
    # inside each drawn group (ported draws, in that order); each drawn copy its own group; sklearn AUROC.
    generator = Mulberry32(17)
    units = sorted(set(cv_groups))
    members = [np.flatnonzero(cv_groups == g) for g in units]
    values = []
    for _ in range(300):
        rows_picked, copies = [], []
        for draw in range(len(units)):
            group_rows = members[generator.next_integer(len(units))]
            for _ in range(len(group_rows)):
                rows_picked.append(group_rows[generator.next_integer(len(group_rows))])
                copies.append(draw)
        rows_picked = np.array(rows_picked)
        value = within_group_auroc(nested_probabilities[rows_picked], cv_labels[rows_picked], copies)
        if np.isfinite(value):
            values.append(value)
    bootstrap = {'seed': 17, 'resamples': 300, 'interval': floats(np.quantile(values, [0.025, 0.975]))}

    # t-interval of a mean over questions (steering sweep intervals).
    scores = rng.normal(60, 15, 18)
    low, high = st.t.interval(0.95, len(scores) - 1, loc=np.mean(scores), scale=st.sem(scores))
    mean_interval = {'values': floats(scores), 'low': float(low), 'high': float(high)}

    out = {
        'generator': 'tools/analysis/generate-inference-references.py',
        'meanInterval': mean_interval,
        'versions': {'numpy': np.__version__, 'scipy': scipy.__version__, 'sklearn': sklearn.__version__},
        'wilcoxon': wilcoxon, 'adjusted': adjusted, 'randomNull': null, 'folds': folds, 'nested': nested,
        'permutation': permutation, 'clusterBootstrap': bootstrap,
    }
    write_references(OUT, out)


if __name__ == '__main__':
    main()
