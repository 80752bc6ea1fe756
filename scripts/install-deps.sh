#!/usr/bin/env bash
# Installs the Debian packages nabla needs to build, test and run its demo. Idempotent: quiet and
# quick when everything is already there. Run as root (or with sudo available).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libdnnl-dev            # GEMM and convolution (oneDNN)
  ocl-icd-opencl-dev     # oneDNN's CMake config requires OpenCL; Debian only recommends it
  zlib1g-dev             # gzip-compressed IDX files
  libpng-dev             # PNG images (data::read_image, data::write_png)
  libjpeg62-turbo-dev    # JPEG images (data::read_image, image folders), libjpeg-turbo
  # TensorBoard event files: the records are protobuf messages (src/train/tensorboard.proto),
  # compiled by protoc at build time and encoded by libprotobuf, as TensorFlow does.
  libprotobuf-dev protobuf-compiler
  nlohmann-json3-dev     # model specs, safetensors headers, reference data
  libcli11-dev           # the nabla command line
  # ONNX export: the ONNX C++ library (protobuf classes, checker, shape inference), and ONNX's
  # Python checker for the peer test (tests/reference/check_onnx_export.py).
  libonnx-dev python3-onnx
  # Training across processes and machines (src/dist/): Open MPI, and mpirun for its tests.
  libopenmpi-dev openmpi-bin
  libgtest-dev libgmock-dev
  libbenchmark-dev
  clang libclang-rt-14-dev libomp-dev  # the fuzz targets (libFuzzer, sanitizers, OpenMP)
  dataset-fashion-mnist  # the default data set
  bible-kjv              # text corpus: the King James Bible (character language model)
  fortunes               # text corpus: fortune cookies by category (text classification)
  chromium python3       # the run report's test renders report.html headless and checks the DOM
  python3-sklearn        # its copy of the Boston house prices (the wide_deep, wide and deep presets)
)
if [[ "${NABLA_WITH_BENCH:-0}" == 1 ]]; then
  packages+=(python3-torch)  # the peer in bench/compare, never a build or test dependency
  # PyTorch's BLAS: without it Debian's torch falls back to the reference BLAS (~1 GFLOP/s),
  # which would not be PyTorch's best configuration.
  packages+=(libopenblas0-pthread)
  packages+=(fasttext)  # the word2vec peer in bench/compare/word2vec.py (Facebook's C++ fastText)
  packages+=(python3-pil)  # PIL decoding for PyTorch's DataLoader in bench/pipeline/torch_loader.py
fi

# npm runs ONNX Runtime for the ONNX export check. A Node.js from elsewhere (NodeSource) bundles
# its own npm and conflicts with Debian's package, so Debian's npm only where there is none.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ONNX Runtime (npm onnxruntime-node, the version pinned in its package-lock.json) for the peer
# check of ONNX exports; --ignore-scripts: the CPU library is inside the package, and the install
# script would only try to download GPU libraries. Into the source tree (git-ignored), where
# tests/reference/onnx_runtime_check.js finds it.
ort_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/reference/onnxruntime"
if [[ ! -d "$ort_dir/node_modules/onnxruntime-node" ]]; then
  echo "install-deps: installing onnxruntime-node (npm) into $ort_dir"
  npm ci --prefix "$ort_dir" --ignore-scripts --no-audit --no-fund >/dev/null
fi
