#!/usr/bin/python3
"""Writes tests/metric_class_fixture.h: data and expected values for test_metric_class.c.

An independent numpy (float64) implementation of Keras 3's formulas
(keras/src/metrics/confusion_metrics.py, f_score_metrics.py, accuracy_metrics.py): AUC by
comparing every prediction with each of the float32 thresholds (Keras's direct path), not by
the bucketing the library uses. Run: /usr/bin/python3 tests/metric_class_fixture.py
"""
import numpy as np

rng = np.random.default_rng(20240613)
N, C = 37, 4
EPS = float(np.float32(1e-7))

logits = rng.normal(size=(N, C)).astype(np.float32)
e = np.exp(logits - logits.max(axis=1, keepdims=True))
probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
labels = rng.integers(0, C, size=N)
onehot = np.eye(C, dtype=np.float32)[labels]
multilabel = (rng.random((N, C)) < 0.4).astype(np.float32)
bin_p = rng.random(N).astype(np.float32)
bin_p[:5] = np.float32(0.5)  # ties at a threshold
bin_y = (rng.random(N) < 0.45).astype(np.float32)
bin_logit = rng.normal(scale=2.0, size=N).astype(np.float32)


def dnn(a, b):
    return 0.0 if b == 0 else a / b


def confusion(y, p, threshold=None, top_k=None, class_id=None):
    p = p.astype(np.float64).copy()
    if threshold is None:
        threshold = 0.5 if top_k is None else -1e10
    if top_k is not None:
        filt = np.full_like(p, np.float32(-1e10))
        for i in range(p.shape[0]):
            order = sorted(range(p.shape[1]), key=lambda j: (-p[i, j], j))[:top_k]
            filt[i, order] = p[i, order]
        p = filt
    if class_id is not None:
        y, p = y[:, class_id], p[:, class_id]
    pos = p > np.float32(threshold)
    lab = y != 0
    tp = np.sum(pos & lab); fp = np.sum(pos & ~lab); fn = np.sum(~pos & lab)
    return dnn(tp, tp + fp), dnn(tp, tp + fn)


def sigmoid32(x):
    return (1.0 / (1.0 + np.exp(-x.astype(np.float32)))).astype(np.float32)


def auc(y, p, T=200, curve="ROC", summation="interpolation", from_logits=False):
    y = (y.reshape(-1) != 0).astype(np.float64)
    p = p.reshape(-1).astype(np.float32)
    if from_logits:
        p = sigmoid32(p)
    thr = np.array([0 - 1e-7] + [(i + 1) * 1.0 / (T - 1) for i in range(T - 2)] + [1 + 1e-7],
                   dtype=np.float32)
    pos = p[None, :] > thr[:, None]
    tp = (pos * y).sum(1); fp = (pos * (1 - y)).sum(1)
    fn = y.sum() - tp; tn = (1 - y).sum() - fp
    if curve == "PR" and summation == "interpolation":
        total = 0.0
        for i in range(T - 1):
            dtp = tp[i] - tp[i + 1]
            pa, pb = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
            slope = dnn(dtp, max(pa - pb, 0))
            intercept = tp[i + 1] - slope * pb
            ratio = dnn(pa, max(pb, 0)) if (pa > 0 and pb > 0) else 1.0
            total += dnn(slope * (dtp + intercept * np.log(ratio)), max(tp[i + 1] + fn[i + 1], 0))
        return total
    rec = np.array([dnn(a, a + b) for a, b in zip(tp, fn)])
    if curve == "ROC":
        x = np.array([dnn(a, a + b) for a, b in zip(fp, tn)]); yy = rec
    else:
        x = rec; yy = np.array([dnn(a, a + b) for a, b in zip(tp, fp)])
    if summation == "interpolation":
        h = (yy[:-1] + yy[1:]) / 2
    elif summation == "minoring":
        h = np.minimum(yy[:-1], yy[1:])
    else:
        h = np.maximum(yy[:-1], yy[1:])
    return float(np.sum((x[:-1] - x[1:]) * h))


def fbeta(y, p, average=None, threshold=None, beta=1.0):
    p = p.astype(np.float32); y = y.astype(np.float64)
    if threshold is None:
        yp = (p >= p.max(axis=1, keepdims=True)) & (np.abs(p) > np.float32(1e-9))
    else:
        yp = p > np.float32(threshold)
    yp = yp.astype(np.float64)
    axis = None if average == "micro" else 0
    tp = np.sum(yp * y, axis=axis); fp = np.sum(yp * (1 - y), axis=axis)
    fn = np.sum((1 - yp) * y, axis=axis); sup = np.sum(y, axis=axis)
    prec = tp / (tp + fp + EPS); rec = tp / (tp + fn + EPS)
    f = prec * rec / (beta * beta * prec + rec + EPS) * (1 + beta * beta)
    if average == "weighted":
        return [float(np.sum(f * (sup / (np.sum(sup) + EPS))))]
    if average is not None:
        return [float(np.mean(f))]
    return [float(v) for v in f]


def top_k_acc(target_idx, p, k):
    hits = 0
    for i, c in enumerate(target_idx):
        hits += (not np.isnan(p[i, c])) and np.sum(p[i] > p[i, c]) < k
    return hits / len(target_idx)


cases = []  # (spec, pred array name, target array name, cols, tcols, [values])
pr, rc = confusion(onehot, probs)
cases += [("precision", "probs", "onehot", C, C, [pr]), ("recall", "probs", "onehot", C, C, [rc])]
cases += [("precision(top_k=2)", "probs", "onehot", C, C, [confusion(onehot, probs, top_k=2)[0]])]
cases += [("recall(top_k=2)", "probs", "onehot", C, C, [confusion(onehot, probs, top_k=2)[1]])]
cases += [("recall(class_id=1)", "probs", "onehot", C, C, [confusion(onehot, probs, class_id=1)[1]])]
cases += [("Precision(top_k=1, class_id=3)", "probs", "onehot", C, C,
           [confusion(onehot, probs, top_k=1, class_id=3)[0]])]
cases += [("recall(thresholds=0.3)", "probs", "multilabel", C, C,
           [confusion(multilabel, probs, threshold=0.3)[1]])]
cases += [("precision(thresholds=0.2)", "probs", "multilabel", C, C,
           [confusion(multilabel, probs, threshold=0.2)[0]])]
cases += [("precision", "bin_p", "bin_y", 1, 1, [confusion(bin_y[:, None], bin_p[:, None])[0]])]
cases += [("recall", "bin_p", "bin_y", 1, 1, [confusion(bin_y[:, None], bin_p[:, None])[1]])]
for spec, kw in [("auc", {}), ("auc(curve=PR)", {"curve": "PR"}),
                 ("auc(curve=PR, summation_method=minoring)", {"curve": "PR", "summation": "minoring"}),
                 ("auc(summation_method=majoring)", {"summation": "majoring"}),
                 ("auc(summation_method=minoring)", {"summation": "minoring"}),
                 ("AUC(num_thresholds=50)", {"T": 50})]:
    cases += [(spec, "bin_p", "bin_y", 1, 1, [auc(bin_y, bin_p, **kw)])]
    cases += [(spec, "probs", "onehot", C, C, [auc(onehot, probs, **kw)])]
cases += [("auc(from_logits=True)", "bin_logit", "bin_y", 1, 1, [auc(bin_y, bin_logit, from_logits=True)])]
cases += [("auc(curve=PR, from_logits=True)", "bin_logit", "bin_y", 1, 1,
           [auc(bin_y, bin_logit, curve="PR", from_logits=True)])]
cases += [("f1_score", "probs", "onehot", C, C, fbeta(onehot, probs))]
for avg in ["micro", "macro", "weighted"]:
    cases += [(f"f1_score(average={avg})", "probs", "onehot", C, C, fbeta(onehot, probs, avg))]
    cases += [(f"f1_score(average={avg}, threshold=0.3)", "probs", "multilabel", C, C,
               fbeta(multilabel, probs, avg, 0.3))]
cases += [("f1_score(threshold=0.5)", "bin_p", "bin_y", 1, 1, fbeta(bin_y[:, None], bin_p[:, None], None, 0.5))]
cases += [("fbeta_score(beta=2.0, average=macro)", "probs", "onehot", C, C, fbeta(onehot, probs, "macro", None, 2.0))]
cases += [("FBetaScore(beta=0.5, threshold=0.25)", "probs", "multilabel", C, C,
           fbeta(multilabel, probs, None, 0.25, 0.5))]
cases += [("top_k_categorical_accuracy(k=2)", "probs", "onehot", C, C, [top_k_acc(labels, probs, 2)])]
cases += [("top_k_categorical_accuracy(k=1)", "probs", "onehot", C, C, [top_k_acc(labels, probs, 1)])]
cases += [("sparse_top_k_categorical_accuracy(k=3)", "probs", "labels", C, 1, [top_k_acc(labels, probs, 3)])]
cases += [("sparse_top_k_categorical_accuracy", "probs", "labels", C, 1, [top_k_acc(labels, probs, 5)])]


def arr(name, a):
    vals = ", ".join(repr(float(v)) + "f" for v in np.asarray(a, dtype=np.float32).reshape(-1))
    return f"static const float FX_{name}[] = {{{vals}}};\n"


with open(__file__.replace(".py", ".h"), "w") as f:
    f.write("/* Generated by tests/metric_class_fixture.py (numpy, Keras 3's formulas); do not edit. */\n")
    f.write(f"#define FX_N {N}\n#define FX_C {C}\n")
    for name, a in [("probs", probs), ("onehot", onehot), ("multilabel", multilabel),
                    ("labels", labels.astype(np.float32)), ("bin_p", bin_p), ("bin_y", bin_y),
                    ("bin_logit", bin_logit)]:
        f.write(arr(name, a))
    f.write("typedef struct fx_case {\n  const char *spec;\n  const float *pred, *target;\n"
            "  size_t cols, tcols, n_values;\n  double values[8];\n} fx_case;\n")
    f.write("static const fx_case FX_CASES[] = {\n")
    for spec, pn, tn, cols, tcols, vals in cases:
        vs = ", ".join(repr(float(v)) for v in vals)
        f.write(f'  {{"{spec}", FX_{pn}, FX_{tn}, {cols}, {tcols}, {len(vals)}, {{{vs}}}}},\n')
    f.write("};\n")
