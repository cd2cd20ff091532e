#!/usr/bin/python3
"""make_legacy_act_dropout.py -- writes legacy_act_dropout.h5 and legacy_act_dropout.json beside it.

A Keras 3 legacy (Keras 2 style) full-model .h5 -- model.save("x.h5") through Keras 3.16's
legacy_h5_format -- of Sequential([Input((4,)), Dense(5), Activation("tanh"), Dropout(0.25),
Dense(2, "sigmoid")]) compiled with Adam and "mse", laid out as the genuine
../shared/data/keras/mlp_legacy.h5 is (checked with h5py): root attributes backend and
keras_version (UTF-8 strings), model_config and training_config (JSON, ASCII strings);
model_weights with backend, keras_version and layer_names (every layer, also those without
weights); a group per layer whose weight_names is a list of strings or, for a layer without
weights (Activation, Dropout, and top_level_model_weights), an EMPTY FLOAT64 ARRAY, as Keras
writes np.asarray([]); the weights under <layer>/sequential/<layer>/<var>; optimizer_weights
with the Adam state (iteration int32, learning_rate, momentum/velocity interleaved).

No Keras is needed: run with Debian's /usr/bin/python3 + python3-h5py + python3-numpy. The JSON
holds the input rows and the outputs numpy computes (float32, Dropout is the identity at
inference). The generated files are committed; rerun this script only to change them.
"""
import json
import os

import h5py
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
f32 = np.float32


def pattern(shape, scale, offset):
    n = int(np.prod(shape))
    return (np.sin(np.arange(n, dtype=np.float64) * 0.7 + offset) * scale).astype(f32).reshape(shape)


def policy():
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
            "registered_name": None}


def dense(name, units, act):
    return {"class_name": "Dense", "config": {
        "name": name, "trainable": True, "dtype": policy(), "units": units, "activation": act,
        "use_bias": True,
        "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform",
                               "config": {"seed": None, "input_axes": None,
                                          "output_axes": None}, "registered_name": None},
        "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {},
                             "registered_name": None},
        "kernel_regularizer": None, "bias_regularizer": None, "kernel_constraint": None,
        "bias_constraint": None, "quantization_config": None}}


model_config = {"class_name": "Sequential", "config": {
    "name": "sequential", "trainable": True, "dtype": policy(),
    "layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "dtype": "float32",
                                                "sparse": False, "ragged": False,
                                                "name": "input_layer", "optional": False}},
        dense("dense", 5, "linear"),
        {"class_name": "Activation", "config": {"name": "activation", "trainable": True,
                                                "dtype": policy(), "activation": "tanh"}},
        {"class_name": "Dropout", "config": {"name": "dropout", "trainable": True,
                                             "dtype": policy(), "rate": 0.25, "seed": None,
                                             "noise_shape": None}},
        dense("dense_1", 2, "sigmoid"),
    ],
    "build_input_shape": [None, 4]}}
training_config = {
    "loss": "mse", "loss_weights": None, "metrics": None, "weighted_metrics": None,
    "run_eagerly": False, "steps_per_execution": 1, "jit_compile": True,
    "optimizer_config": {"class_name": "Adam", "config": {
        "name": "adam", "learning_rate": 0.0010000000474974513, "weight_decay": None,
        "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
        "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
        "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07,
        "amsgrad": False}}}

weights = {
    "dense": [("kernel", pattern((4, 5), 0.6, 0.1)), ("bias", pattern((5,), 0.2, 1.3))],
    "activation": [],
    "dropout": [],
    "dense_1": [("kernel", pattern((5, 2), 0.8, 2.2)), ("bias", pattern((2,), 0.3, 0.4))],
}

ascii_t = h5py.string_dtype("ascii")
utf8_t = h5py.string_dtype("utf-8")
path = os.path.join(here, "legacy_act_dropout.h5")
with h5py.File(path, "w") as f:
    f.attrs.create("backend", "numpy", dtype=utf8_t)
    f.attrs.create("keras_version", "3.16.0", dtype=utf8_t)
    f.attrs.create("model_config", json.dumps(model_config).encode(), dtype=ascii_t)
    f.attrs.create("training_config", json.dumps(training_config).encode(), dtype=ascii_t)
    mw = f.create_group("model_weights")
    mw.attrs.create("backend", b"numpy", dtype=ascii_t)
    mw.attrs.create("keras_version", b"3.16.0", dtype=ascii_t)
    mw.attrs.create("layer_names", [n.encode() for n in weights], dtype=ascii_t)
    for name, vs in weights.items():
        g = mw.create_group(name)
        if vs:
            g.attrs.create("weight_names", [f"sequential/{name}/{v}".encode() for v, _ in vs],
                           dtype=ascii_t)
            for v, a in vs:
                g.create_dataset(f"sequential/{name}/{v}", data=a)
        else:
            g.attrs["weight_names"] = np.asarray([])  # float64, shape (0,), as Keras writes it
    mw.create_group("top_level_model_weights").attrs["weight_names"] = np.asarray([])
    ow = f.create_group("optimizer_weights")
    names = ["adam/iteration", "adam/learning_rate"]
    ow.create_dataset("adam/iteration", data=np.int32(3))
    ow.create_dataset("adam/learning_rate", data=f32(0.001))
    k = 0
    for name, vs in weights.items():
        for v, a in vs:
            for slot in ("momentum", "velocity"):
                n = f"adam/sequential_{name}_{v}_{slot}"
                names.append(n)
                val = pattern(a.shape, 0.01, 3.0 + k)
                ow.create_dataset(n, data=np.abs(val) if slot == "velocity" else val)
                k += 1
    ow.attrs.create("weight_names", [n.encode() for n in names], dtype=ascii_t)

x = pattern((6, 4), 1.5, 0.5)
h = np.tanh(x @ weights["dense"][0][1] + weights["dense"][1][1])
z = h @ weights["dense_1"][0][1] + weights["dense_1"][1][1]
y = (1.0 / (1.0 + np.exp(-z.astype(np.float64)))).astype(f32)
with open(os.path.join(here, "legacy_act_dropout.json"), "w") as out:
    json.dump({"x": [float(v) for v in x.ravel()], "rows": 6, "cols": 4,
               "y": [float(v) for v in y.ravel()], "outputs": 2, "iterations": 3}, out, indent=1)
