#!/usr/bin/env bash
# Usage: check_import_onnx.sh NABLA ONNX_DATA_DIR WORK_DIR
# `nabla import` of PyTorch's ONNX exports (tests/reference/gen_onnx_models.py), then
# `nabla predict --input NAME_input.npy --output y.npy` on the imported checkpoint folder gives
# PyTorch's outputs (NAME_output.npy) within 1e-5. Exit 77 (skipped) without NumPy.
set -eu
nabla=$1
data=$2
work=$3
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  echo "skipped: /usr/bin/python3 with numpy is not installed"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work"
for name in mlp residual_cnn lstm gelu_mlp conv_autoencoder text_classifier group_norm_cnn; do
  "$nabla" import "$data/$name.onnx" --out "$work/$name"
  test -s "$work/$name/model.safetensors"
  test -s "$work/$name/model.json"
  "$nabla" predict --checkpoint "$work/$name" --input "$data/${name}_input.npy" \
    --output "$work/$name/y.npy"
  /usr/bin/python3 - "$work/$name/y.npy" "$data/${name}_output.npy" "$name" <<'PY'
import sys
import numpy as np
got, want = np.load(sys.argv[1]), np.load(sys.argv[2])
assert got.shape == want.shape, (got.shape, want.shape)
diff = float(np.abs(got - want).max())
print(f"{sys.argv[3]}: max |nabla - torch| = {diff:.3g}")
assert diff < 1e-5, diff
PY
done
