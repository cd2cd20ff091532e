#!/usr/bin/python3
"""check_legacy_h5.py -- the legacy .h5 files dn_keras_save writes have the structure of the ones
Keras 3 writes (ctest keras_legacy_layout).

usage: check_legacy_h5.py WRITER OUT_DIR REFERENCE...

Runs WRITER (test_keras_gaps) with $DN_KERAS_LEGACY_OUT=OUT_DIR, which saves with dn_keras_save
  OUT_DIR/mlp_legacy.h5          the model of the genuine Keras 3.16 file mlp_legacy.h5
                                 (../shared/data/keras), trained a step
  OUT_DIR/legacy_act_dropout.h5  tests/keras/data/legacy_act_dropout.h5 loaded and saved again
and compares each with the REFERENCE of the same name (a missing genuine file is skipped):
  - the same groups and datasets at the same paths, datasets of the same shape and dtype;
  - the same attributes on every object, each of the same HDF5 type: string attributes with the
    same character set (UTF-8 or ASCII) and variable length, the same shape (scalar or list),
    empty float64 weight_names where Keras has them; the string values equal (layer_names,
    weight_names, backend, keras_version);
  - model_config and training_config the same JSON: the same keys in the same order and the
    same values, but for numbers that differ only by training (the learning rate) -- values
    listed in NUMERIC_FREE -- and a loss alias ("mae") for which we write the canonical name.
Exit 77 (skip) without h5py.
"""
import json
import os
import subprocess
import sys

try:
    import h5py
    import numpy as np
except ImportError as e:  # pragma: no cover
    print(f"SKIP: /usr/bin/python3 has no h5py/numpy ({e}); install python3-h5py")
    sys.exit(77)

# the training_config of legacy_act_dropout.h5 was written by hand; the number itself may differ
NUMERIC_FREE = {"learning_rate"}
# Keras keeps the loss string as compile() got it; this library writes the canonical name of the
# same loss, which Keras resolves alike (docs/keras-differences.md)
LOSS_ALIASES = {"mae": "mean_absolute_error", "mse": "mean_squared_error",
                "mape": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error"}


def attr_sig(obj, name):
    raw = obj.attrs.get_id(name)
    t = raw.get_type()
    shape = raw.get_space().shape
    if isinstance(t, h5py.h5t.TypeStringID):
        return ("string", "utf-8" if t.get_cset() == h5py.h5t.CSET_UTF8 else "ascii",
                "vlen" if t.is_variable_str() else f"fixed{t.get_size()}", shape)
    return (t.__class__.__name__, str(obj.attrs[name].dtype), shape)


def tree(f):
    out = {}

    def visit(name, obj):
        kind = "group" if isinstance(obj, h5py.Group) else ("dataset", obj.shape, str(obj.dtype))
        out[name] = (kind, {a: attr_sig(obj, a) for a in obj.attrs})
    out["/"] = ("group", {a: attr_sig(f, a) for a in f.attrs})
    f.visititems(visit)
    return out


def decode(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype == object:
        return [decode(x) for x in v]
    if isinstance(v, np.ndarray):
        return ("array", str(v.dtype), v.shape)
    return v


def same_json(a, b, where, errors):
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            errors.append(f"{where}: keys {list(a)} != {list(b)}")
            return
        for k in a:
            if k == "loss" and where.endswith("@training_config") and isinstance(b[k], str):
                b = dict(b, loss=LOSS_ALIASES.get(b[k], b[k]))
            if k in NUMERIC_FREE and isinstance(a[k], (int, float)) and isinstance(b[k], (int, float)):
                continue
            same_json(a[k], b[k], f"{where}.{k}", errors)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            errors.append(f"{where}: {len(a)} items != {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            same_json(x, y, f"{where}[{i}]", errors)
    elif a != b or type(a) is not type(b):
        errors.append(f"{where}: {a!r} != {b!r}")


def compare(ours_path, ref_path):
    errors = []
    with h5py.File(ours_path, "r") as ours, h5py.File(ref_path, "r") as ref:
        to, tr = tree(ours), tree(ref)
        for p in sorted(set(to) | set(tr)):
            if p not in to:
                errors.append(f"missing: {p} {tr[p]}")
            elif p not in tr:
                errors.append(f"extra: {p} {to[p]}")
            elif to[p] != tr[p]:
                errors.append(f"{p}: ours {to[p]} != Keras {tr[p]}")
        for p in sorted(set(to) & set(tr)):
            o, r = (ours if p == "/" else ours[p]), (ref if p == "/" else ref[p])
            for a in sorted(set(o.attrs) & set(r.attrs)):
                vo, vr = decode(o.attrs[a]), decode(r.attrs[a])
                if a in ("model_config", "training_config"):
                    same_json(json.loads(vo), json.loads(vr), f"{p}@{a}", errors)
                elif vo != vr:
                    errors.append(f"{p}@{a}: ours {vo!r} != Keras {vr!r}")
    return errors


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    writer, out_dir, refs = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, DN_KERAS_LEGACY_OUT=out_dir)
    subprocess.run([writer], env=env, check=True)
    checked, failed = 0, False
    for ref in refs:
        if not os.path.exists(ref):
            print(f"note: {ref} is absent (genuine Keras files, not shipped): not compared")
            continue
        ours = os.path.join(out_dir, os.path.basename(ref))
        errors = compare(ours, ref)
        checked += 1
        print(f"{ours} vs {ref}: {'same structure' if not errors else 'DIFFERENT'}")
        for e in errors:
            print("  " + e)
        failed |= bool(errors)
    if checked == 0:
        print("SKIP: no reference file found")
        return 77
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
