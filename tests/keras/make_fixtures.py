#!/usr/bin/python3
"""make_fixtures.py OUTDIR -- small Keras-layout files of our own for tests/keras/test_keras.c.

Run at build time by tests/keras/CMakeLists.txt with Debian's /usr/bin/python3, python3-h5py and
python3-numpy (no Keras: the files follow the layouts Keras writes, documented in
../shared/data/keras/README.md). Expected values are computed here with numpy (float32) and
written to OUTDIR/fixtures.json.

  tf2_legacy.h5        a tf.keras 2 style full model: first layer with batch_input_shape (no
                       InputLayer), fixed-length byte-string attributes, weights named
                       "<layer>/kernel:0", Adam state named "Adam/iter:0", "Adam/<layer>/<var>/m:0"
                       with every momentum before every velocity; Dense, BatchNormalization,
                       Dropout, Activation, Dense.
  misc.keras           a Keras 3 archive with Activation, BatchNormalization(center=False), an L2
                       kernel regularizer, a RandomNormal initializer and SGD(momentum=0.9) state.
  float64.weights.h5   Keras 3 weights layout for 3 -> 2 Dense with a float64 kernel (unsupported).
  conv.keras           a config with a Conv2D layer (unsupported).
  constraint.keras     a Dense with a kernel_constraint (unsupported).
  huge.keras           a Dense with 10^7 units and a tiny weights file (must be refused before
                       allocating).
  frozen.keras         fine-tuning: Dense and BatchNormalization with "trainable": false, a
                       trainable Dense head, Adam state for the head's two variables only (Keras
                       builds optimizer variables for model.trainable_weights).
  frozen_legacy.h5     tf2_legacy.h5 with its first Dense frozen: optimizer weights for the other
                       four trainable variables only.
"""
import io
import json
import sys
import zipfile

import h5py
import numpy as np

out = sys.argv[1]
f32 = np.float32
expected = {}


def pattern(shape, scale, offset):
    n = int(np.prod(shape)) if shape else 1
    v = np.sin(np.arange(n, dtype=np.float64) * 0.7 + offset) * scale
    return v.astype(f32).reshape(shape)


def policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def obj(module, cls, config, **extra):
    d = {"module": module, "class_name": cls, "config": config, "registered_name": None}
    d.update(extra)
    return d


def init(cls, **cfg):
    return obj("keras.initializers", cls, cfg)


def dense_cfg(name, units, act, **extra):
    c = {"name": name, "trainable": True, "dtype": policy(), "units": units,
         "activation": act, "use_bias": True,
         "kernel_initializer": init("GlorotUniform", seed=None),
         "bias_initializer": init("Zeros"), "kernel_regularizer": None,
         "bias_regularizer": None, "kernel_constraint": None, "bias_constraint": None,
         "quantization_config": None}
    c.update(extra)
    return c


def sequential(layers, dim, compile_config=None):
    cfg = {"module": "keras", "class_name": "Sequential",
           "config": {"name": "sequential", "trainable": True, "dtype": policy(),
                      "layers": [obj("keras.layers", "InputLayer",
                                     {"batch_shape": [None, dim], "dtype": "float32",
                                      "sparse": False, "ragged": False, "name": "input_layer",
                                      "optional": False})] + layers,
                      "build_input_shape": [None, dim]},
           "registered_name": None, "build_config": {"input_shape": [None, dim]}}
    if compile_config is not None:
        cfg["compile_config"] = compile_config
    return cfg


def keras_zip(path, config, weights_bytes):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", json.dumps({"keras_version": "3.16.0",
                                                 "date_saved": "2026-01-01@00:00:00"}))
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.h5", weights_bytes)


def weights_h5(layers, optimizer=None):
    """layers: list of (path, [arrays]); optimizer: (name, [arrays]) or None."""
    bio = io.BytesIO()
    with h5py.File(bio, "w") as f:
        f.create_group("vars").attrs["name"] = "sequential"
        for path, name, arrays in layers:
            g = f.create_group(path).create_group("vars")
            g.attrs["name"] = name
            for i, a in enumerate(arrays):
                g[str(i)] = a
        if optimizer is not None:
            g = f.create_group("optimizer").create_group("vars")
            g.attrs["name"] = optimizer[0]
            for i, a in enumerate(optimizer[1]):
                g[str(i)] = a
    return bio.getvalue()


def relu(x):
    return np.maximum(x, f32(0))


def sigmoid(x):
    return (f32(1) / (f32(1) + np.exp(-x))).astype(f32)


x_check = pattern((4, 3), 1.5, 0.3)

# ---- tf2_legacy.h5 --------------------------------------------------------------------------
k1, b1 = pattern((3, 4), 0.8, 0.1), pattern((4,), 0.2, 0.5)
gamma, beta = pattern((4,), 0.3, 1.0) + f32(1), pattern((4,), 0.1, 2.0)
mm, mv = pattern((4,), 0.5, 3.0), np.abs(pattern((4,), 0.5, 4.0)) + f32(0.5)
k2, b2 = pattern((4, 2), 0.9, 5.0), pattern((2,), 0.1, 6.0)
h = relu(x_check @ k1 + b1)
h = ((h - mm) / np.sqrt(mv + f32(1e-3)) * gamma + beta).astype(f32)
h = sigmoid(h)
y = (h @ k2 + b2).astype(f32)
model_config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "Dense", "config": {
        "name": "dense", "trainable": True, "batch_input_shape": [None, 3], "dtype": "float32",
        "units": 4, "activation": "relu", "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None}},
    {"class_name": "BatchNormalization", "config": {
        "name": "batch_normalization", "trainable": True, "dtype": "float32", "axis": [1],
        "momentum": 0.99, "epsilon": 0.001, "center": True, "scale": True,
        "beta_initializer": {"class_name": "Zeros", "config": {}},
        "gamma_initializer": {"class_name": "Ones", "config": {}},
        "moving_mean_initializer": {"class_name": "Zeros", "config": {}},
        "moving_variance_initializer": {"class_name": "Ones", "config": {}},
        "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
        "gamma_constraint": None}},
    {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True,
                                         "dtype": "float32", "rate": 0.5,
                                         "noise_shape": None, "seed": None}},
    {"class_name": "Activation", "config": {"name": "activation", "trainable": True,
                                            "dtype": "float32", "activation": "sigmoid"}},
    {"class_name": "Dense", "config": {
        "name": "dense_1", "trainable": True, "dtype": "float32", "units": 2,
        "activation": "linear", "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
        "kernel_constraint": None, "bias_constraint": None}}]},
    "keras_version": "2.12.0", "backend": "tensorflow"}
training_config = {"loss": "mse", "metrics": ["mae"], "weighted_metrics": None,
                   "loss_weights": None,
                   "optimizer_config": {"class_name": "Adam", "config": {
                       "name": "Adam", "learning_rate": 0.0099999997764825820922851562,
                       "decay": 0.0, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
                       "amsgrad": False, "is_legacy_optimizer": False, "jit_compile": False}}}
trainable = [("dense", "kernel", k1), ("dense", "bias", b1),
             ("batch_normalization", "gamma", gamma), ("batch_normalization", "beta", beta),
             ("dense_1", "kernel", k2), ("dense_1", "bias", b2)]
ms = [pattern(a.shape, 0.01, 10 + i) for i, (_, _, a) in enumerate(trainable)]
vs = [np.abs(pattern(a.shape, 0.001, 20 + i)) for i, (_, _, a) in enumerate(trainable)]
with h5py.File(f"{out}/tf2_legacy.h5", "w") as f:
    f.attrs["keras_version"] = np.bytes_(b"2.12.0")
    f.attrs["backend"] = np.bytes_(b"tensorflow")
    f.attrs["model_config"] = np.bytes_(json.dumps(model_config).encode())
    f.attrs["training_config"] = np.bytes_(json.dumps(training_config).encode())
    mw = f.create_group("model_weights")
    names = ["dense", "batch_normalization", "dropout", "activation", "dense_1"]
    mw.attrs["layer_names"] = np.array([n.encode() for n in names], dtype="S")
    per_layer = {"dense": [("kernel", k1), ("bias", b1)],
                 "batch_normalization": [("gamma", gamma), ("beta", beta),
                                         ("moving_mean", mm), ("moving_variance", mv)],
                 "dense_1": [("kernel", k2), ("bias", b2)]}
    for n in names:
        g = mw.create_group(n)
        ws = per_layer.get(n, [])
        g.attrs["weight_names"] = np.array([f"{n}/{v}:0".encode() for v, _ in ws], dtype="S")
        for v, a in ws:
            g[f"{n}/{v}:0"] = a
    og = f.create_group("optimizer_weights")
    onames = ["Adam/iter:0"]
    og["Adam/iter:0"] = np.int64(7)
    for (layer, var, _), m in zip(trainable, ms):
        onames.append(f"Adam/{layer}/{var}/m:0")
        og[onames[-1]] = m
    for (layer, var, _), v in zip(trainable, vs):
        onames.append(f"Adam/{layer}/{var}/v:0")
        og[onames[-1]] = v
    og.attrs["weight_names"] = np.array([n.encode() for n in onames], dtype="S")
expected["tf2_legacy.h5"] = {
    "x": x_check.ravel().tolist(), "rows": 4, "predict": y.ravel().tolist(),
    "iterations": 7, "learning_rate": float(f32(0.01)),
    "weights": np.concatenate([a.ravel() for a in [k1, b1, gamma, beta, mm, mv, k2, b2]]).tolist(),
    "m": [a.ravel().tolist() for a in ms], "v": [a.ravel().tolist() for a in vs]}

# ---- misc.keras -------------------------------------------------------------------------------
k1, b1 = pattern((3, 5), 0.7, 7.0), pattern((5,), 0.2, 8.0)
g2 = pattern((5,), 0.2, 9.0) + f32(1)
mm2, mv2 = pattern((5,), 0.3, 11.0), np.abs(pattern((5,), 0.4, 12.0)) + f32(0.3)
k3, b3 = pattern((5, 1), 0.6, 13.0), pattern((1,), 0.1, 14.0)
h = np.tanh(x_check @ k1 + b1).astype(f32)
h = ((h - mm2) / np.sqrt(mv2 + f32(0.01)) * g2).astype(f32)
h = np.tanh(h).astype(f32)
y = (h @ k3 + b3).astype(f32)
bn = {"name": "bn", "trainable": True, "dtype": policy(), "axis": -1, "momentum": 0.9,
      "epsilon": 0.01, "center": False, "scale": True,
      "beta_initializer": init("Zeros"), "gamma_initializer": init("Ones"),
      "moving_mean_initializer": init("Zeros"), "moving_variance_initializer": init("Ones"),
      "beta_regularizer": None, "gamma_regularizer": None, "beta_constraint": None,
      "gamma_constraint": None, "synchronized": False, "renorm": False,
      "renorm_clipping": None, "renorm_momentum": 0.99}
layers = [
    obj("keras.layers", "Dense",
        dense_cfg("hidden", 5, "tanh",
                  kernel_regularizer=obj("keras.regularizers", "L2", {"l2": 0.05}),
                  kernel_initializer=init("RandomNormal", mean=0.0, stddev=0.2, seed=None)),
        build_config={"input_shape": [None, 3]}),
    obj("keras.layers", "BatchNormalization", bn, build_config={"input_shape": [None, 5]}),
    obj("keras.layers", "Activation", {"name": "act", "trainable": True, "dtype": policy(),
                                       "activation": "tanh"}),
    obj("keras.layers", "Dense", dense_cfg("out", 1, "linear"),
        build_config={"input_shape": [None, 5]}),
]
sgd = obj("keras.optimizers", "SGD", {
    "name": "SGD", "learning_rate": 0.05000000074505806, "weight_decay": None, "clipnorm": None,
    "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
    "ema_overwrite_frequency": None, "loss_scale_factor": None,
    "gradient_accumulation_steps": None, "momentum": 0.9, "nesterov": False})
compile_config = {"optimizer": sgd, "loss": "mse", "loss_weights": None, "metrics": ["mae"],
                  "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                  "jit_compile": True}
trainable = [k1, b1, g2, k3, b3]
moms = [pattern(a.shape, 0.02, 30 + i) for i, a in enumerate(trainable)]
wbytes = weights_h5([("layers/dense", "hidden", [k1, b1]),
                     ("layers/batch_normalization", "bn", [g2, mm2, mv2]),
                     ("layers/activation", "act", []),
                     ("layers/dense_1", "out", [k3, b3])],
                    ("SGD", [np.int32(3), f32(0.05)] + moms))
keras_zip(f"{out}/misc.keras", sequential(layers, 3, compile_config), wbytes)
expected["misc.keras"] = {
    "x": x_check.ravel().tolist(), "rows": 4, "predict": y.ravel().tolist(),
    "iterations": 3, "learning_rate": float(f32(0.05)),
    "weights": np.concatenate([a.ravel() for a in [k1, b1, g2, mm2, mv2, k3, b3]]).tolist(),
    "momentum": [a.ravel().tolist() for a in moms],
    "regularization": float(0.05 * np.sum(k1.astype(np.float64) ** 2))}

# ---- frozen.keras, frozen_legacy.h5 (fine-tuning) ---------------------------------------------
k1, b1 = pattern((3, 4), 0.8, 15.0), pattern((4,), 0.2, 16.0)
g2, be2 = pattern((4,), 0.3, 17.0) + f32(1), pattern((4,), 0.1, 18.0)
mm2, mv2 = pattern((4,), 0.5, 19.0), np.abs(pattern((4,), 0.5, 20.0)) + f32(0.5)
k3, b3 = pattern((4, 1), 0.6, 21.0), pattern((1,), 0.1, 22.0)
h = relu(x_check @ k1 + b1)
h = ((h - mm2) / np.sqrt(mv2 + f32(1e-3)) * g2 + be2).astype(f32)
y = (h @ k3 + b3).astype(f32)
bn_frozen = dict(bn, name="bn", trainable=False, momentum=0.99, epsilon=0.001, center=True)
layers = [
    obj("keras.layers", "Dense", dense_cfg("base", 4, "relu", trainable=False),
        build_config={"input_shape": [None, 3]}),
    obj("keras.layers", "BatchNormalization", bn_frozen, build_config={"input_shape": [None, 4]}),
    obj("keras.layers", "Dense", dense_cfg("head", 1, "linear"),
        build_config={"input_shape": [None, 4]}),
]
adam = obj("keras.optimizers", "Adam", {
    "name": "adam", "learning_rate": 0.009999999776482582, "weight_decay": None,
    "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
    "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
    "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
    "amsgrad": False})
compile_config = {"optimizer": adam, "loss": "mse", "loss_weights": None, "metrics": None,
                  "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
                  "jit_compile": True}
head_vars = [k3, b3]
ms = [pattern(a.shape, 0.01, 40 + i) for i, a in enumerate(head_vars)]
vs = [np.abs(pattern(a.shape, 0.001, 50 + i)) for i, a in enumerate(head_vars)]
wbytes = weights_h5([("layers/dense", "base", [k1, b1]),
                     ("layers/batch_normalization", "bn", [g2, be2, mm2, mv2]),
                     ("layers/dense_1", "head", [k3, b3])],
                    ("adam", [np.int32(5), f32(0.01), ms[0], vs[0], ms[1], vs[1]]))
keras_zip(f"{out}/frozen.keras", sequential(layers, 3, compile_config), wbytes)
expected["frozen.keras"] = {
    "x": x_check.ravel().tolist(), "rows": 4, "predict": y.ravel().tolist(),
    "iterations": 5, "learning_rate": float(f32(0.01)),
    "weights": np.concatenate([a.ravel() for a in [k1, b1, g2, be2, mm2, mv2, k3, b3]]).tolist(),
    "m": [a.ravel().tolist() for a in ms], "v": [a.ravel().tolist() for a in vs]}

with h5py.File(f"{out}/tf2_legacy.h5", "r") as src, \
        h5py.File(f"{out}/frozen_legacy.h5", "w") as f:
    cfg = json.loads(src.attrs["model_config"])
    cfg["config"]["layers"][0]["config"]["trainable"] = False
    f.attrs["keras_version"] = src.attrs["keras_version"]
    f.attrs["backend"] = src.attrs["backend"]
    f.attrs["model_config"] = np.bytes_(json.dumps(cfg).encode())
    f.attrs["training_config"] = src.attrs["training_config"]
    src.copy("model_weights", f)
    og = f.create_group("optimizer_weights")
    keep = [n.decode() for n in src["optimizer_weights"].attrs["weight_names"]
            if b"/dense/" not in n]
    for n in keep:
        og[n] = src["optimizer_weights"][n][()]
    og.attrs["weight_names"] = np.array([n.encode() for n in keep], dtype="S")
e = dict(expected["tf2_legacy.h5"])
e["m"], e["v"] = e["m"][2:], e["v"][2:]
expected["frozen_legacy.h5"] = e

# ---- unsupported / hostile ----------------------------------------------------------------------
k, b = pattern((3, 2), 0.5, 1.0), pattern((2,), 0.5, 2.0)
with h5py.File(f"{out}/float64.weights.h5", "w") as f:
    f.create_group("vars").attrs["name"] = "sequential"
    g = f.create_group("layers/dense/vars")
    g.attrs["name"] = "dense"
    g["0"] = k.astype(np.float64)
    g["1"] = b

small = weights_h5([("layers/dense", "dense", [k, b])])
conv = obj("keras.layers", "Conv2D", {"name": "conv2d", "trainable": True, "dtype": policy(),
                                      "filters": 4, "kernel_size": [3, 3]})
keras_zip(f"{out}/conv.keras", sequential([conv], 3), small)
keras_zip(f"{out}/constraint.keras",
          sequential([obj("keras.layers", "Dense",
                          dense_cfg("dense", 2, "relu",
                                    kernel_constraint=obj("keras.constraints", "MaxNorm",
                                                          {"max_value": 2, "axis": 0})))], 3),
          small)
keras_zip(f"{out}/huge.keras",
          sequential([obj("keras.layers", "Dense", dense_cfg("dense", 10000000, "relu"))], 3),
          small)

with open(f"{out}/fixtures.json", "w") as fh:
    json.dump(expected, fh)
