"""Checks every .onnx file of a folder with ONNX's own checker (full_check: with shape inference),
as `onnx.checker.check_model` in Debian's python3-onnx 1.12 does it, and that its opset and IR
version are what nabla writes. Run with /usr/bin/python3 (the python3 on PATH may lack onnx).

    /usr/bin/python3 check_onnx_export.py DIR
"""
import os
import sys

import onnx


def main(folder):
    files = sorted(f for f in os.listdir(folder) if f.endswith(".onnx"))
    if not files:
        sys.exit(f"check_onnx_export: {folder}: no .onnx files")
    for name in files:
        model = onnx.load(os.path.join(folder, name))
        onnx.checker.check_model(model, full_check=True)
        opsets = {o.domain: o.version for o in model.opset_import}
        assert opsets == {"": 17}, f"{name}: opsets {opsets}, expected opset 17 only"
        assert model.ir_version == 8, f"{name}: IR version {model.ir_version}, expected 8"
        ops = sorted({n.op_type for n in model.graph.node})
        print(f"{name}: checker ok, {len(model.graph.node)} nodes ({', '.join(ops)})")


if __name__ == "__main__":
    main(sys.argv[1])
