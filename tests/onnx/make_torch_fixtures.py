#!/usr/bin/python3
"""make_torch_fixtures.py DIR -- MLPs (nn.Sequential of Linear and activation modules, in eval
mode) exported by torch.onnx.export at opsets 13 and 17, with Linear lowered both ways: Gemm
(nn.Linear on a 2-D input) and MatMul + Add (the same weights applied as x @ W^T + b). Writes
DIR/<name>.onnx, the input DIR/<name>.x, torch's output DIR/<name>.y (computed in float64, rounded)
and DIR/<name>.y32 (torch's float32 forward) (float32, row-major) and
DIR/manifest.txt ("name in out rows" per line), which `test_onnx torch` reads."""
import copy
import os
import sys

import torch
from torch import nn

out_dir = sys.argv[1]
os.makedirs(out_dir, exist_ok=True)
torch.manual_seed(0)


class MatMulAdd(nn.Module):
    """A Linear as torch.matmul + add, which the exporter writes as MatMul + Add."""

    def __init__(self, linear):
        super().__init__()
        self.weight_t = nn.Parameter(linear.weight.detach().t().contiguous())
        self.bias = nn.Parameter(linear.bias.detach().clone())

    def forward(self, x):
        return torch.matmul(x, self.weight_t) + self.bias


def stacks():
    """name -> the modules between the Linear layers; every activation the importer maps."""
    return {
        "relu_tanh_sigmoid": [nn.ReLU(), nn.Tanh(), nn.Sigmoid()],
        "elu_selu_celu": [nn.ELU(), nn.SELU(), nn.CELU()],
        "gelu_silu_mish": [nn.GELU(), nn.SiLU(), nn.Mish()],
        "softplus_softsign_hardtanh": [nn.Softplus(), nn.Softsign(), nn.Hardtanh()],
        "relu6_hardsigmoid_hardswish": [nn.ReLU6(), nn.Hardsigmoid(), nn.Hardswish()],
        "leaky_dropout_identity_softmax": [nn.LeakyReLU(0.2), nn.Dropout(0.3), nn.Identity()],
        "bn_flatten_logsoftmax": [nn.BatchNorm1d(12), nn.Flatten(), nn.ReLU()],
    }


manifest = []
for name, acts in stacks().items():
    width, layers = 5, []
    for act in acts:
        layers += [nn.Linear(width, 12), act]
        width = 12
    layers.append(nn.Linear(width, 3))
    if name == "leaky_dropout_identity_softmax":
        layers.append(nn.Softmax(dim=-1))
    if name == "bn_flatten_logsoftmax":
        layers.append(nn.LogSoftmax(dim=1))
    model = nn.Sequential(*layers)
    for m in model.modules():  # BatchNorm with non-trivial running statistics
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.5, 0.5)
    with torch.no_grad():  # weights on the grid k/64 (see test_onnx.c: exact first products)
        for p in model.parameters():
            p.copy_(torch.round(p * 64) / 64)
    model.eval()
    for lowering in ("gemm", "matmul"):
        net = model
        if lowering == "matmul":
            net = nn.Sequential(*[MatMulAdd(m) if isinstance(m, nn.Linear) else m for m in model])
            net.eval()
        for opset in (13, 17):
            tag = f"{name}_{lowering}_opset{opset}"
            x = torch.round((torch.rand(200, 5) * 6 - 3) * 8) / 8
            with torch.no_grad():
                # torch's prediction in float64 from the same (float32) weights and input: the
                # reference closest to the exact function, so the comparison measures the import,
                # not torch's float32 rounding of tanh/expm1 (docs/onnx.md).
                y = copy.deepcopy(net).double()(x.double())
                y32 = net(x)  # torch's own float32 prediction: reported beside, not held to 1e-6
            torch.onnx.export(net, (x,), f"{out_dir}/{tag}.onnx", opset_version=opset,
                              input_names=["input"], output_names=["output"],
                              dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
            x.numpy().astype("float32").tofile(f"{out_dir}/{tag}.x")
            y.numpy().astype("float32").tofile(f"{out_dir}/{tag}.y")
            y32.numpy().astype("float32").tofile(f"{out_dir}/{tag}.y32")
            manifest.append(f"{tag} 5 3 200")
with open(f"{out_dir}/manifest.txt", "w") as f:
    f.write("\n".join(manifest) + "\n")
