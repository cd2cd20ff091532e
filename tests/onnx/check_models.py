#!/usr/bin/python3
"""check_models.py DIR -- onnx.checker (full_check: with shape inference) on every model listed
in DIR/manifest.txt (written by `test_onnx export`) whose opset this onnx knows (Debian 12's
onnx 1.12: up to 17; the others are said skipped). Exits 1 naming the first model it rejects."""
import sys

import onnx

d = sys.argv[1]
names = [line.split()[0] for line in open(f"{d}/manifest.txt") if line.strip()]
known = onnx.defs.onnx_opset_version()
checked = 0
for name in names:
    model = onnx.load(f"{d}/{name}.onnx")
    opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset > known:
        print(f"SKIP {name}.onnx: opset {opset}, this onnx ({onnx.__version__}) knows up to {known}")
        continue
    checked += 1
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as e:  # noqa: BLE001 -- report any checker failure
        print(f"onnx.checker rejects {name}.onnx: {e}")
        sys.exit(1)
    assert model.producer_name == "libdensenet", name
print(f"onnx.checker {onnx.__version__}: {checked} of {len(names)} models checked, all pass")
