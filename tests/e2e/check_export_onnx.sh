#!/usr/bin/env bash
# Usage: check_export_onnx.sh NABLA CHECKPOINT NPY_DIR WORK_DIR REFERENCE_DIR
# `nabla export` of a trained checkpoint, checked by its peers: onnx.checker (Debian's
# python3-onnx, full check) accepts the file, and ONNX Runtime (npm onnxruntime-node) run on test
# images 0-2 (NPY_DIR/x.npy, as floats in the model's input shape) gives the outputs of
# `nabla predict --input ... --output y.npy` within 1e-5. Exit 77 (skipped) when a peer is missing.
set -eu
nabla=$1
checkpoint=$2
x=$3/x.npy
work=$4
reference=$5
if ! /usr/bin/python3 -c 'import onnx, numpy' 2>/dev/null; then
  echo "skipped: /usr/bin/python3 with onnx (python3-onnx) is not installed"
  exit 77
fi
if ! command -v node >/dev/null || [[ ! -d $reference/onnxruntime/node_modules/onnxruntime-node ]]; then
  echo "skipped: node or onnxruntime-node is not installed (scripts/install-deps.sh)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
"$nabla" export --checkpoint "$checkpoint" --onnx "$work/model.onnx"
# The images as float32 in the exported input's shape (the batch axis symbolic).
/usr/bin/python3 - "$work/model.onnx" "$x" "$work/model.in.input.npy" <<'PY'
import sys
import numpy as np
import onnx
model = onnx.load(sys.argv[1])
dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
x = np.load(sys.argv[2])
np.save(sys.argv[3], x.astype(np.float32).reshape([x.shape[0]] + dims))
PY
"$nabla" predict --checkpoint "$checkpoint" --input "$work/model.in.input.npy" \
  --output "$work/model.out.output.npy"
/usr/bin/python3 "$reference/check_onnx_export.py" "$work"
node "$reference/onnx_runtime_check.js" "$work" 1e-5
