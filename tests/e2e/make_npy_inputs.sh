#!/usr/bin/env bash
# Usage: make_npy_inputs.sh DIR
# Writes .npy inputs for `nabla predict --input` into DIR without Python: NumPy's header is short
# text, written here by hand. x.npy holds Fashion-MNIST test images 0-2 as uint8 [3, 28, 28] (the
# bytes the presets take, as `--index 0,1,2` reads them); wrong_shape.npy [2, 27, 27] and
# truncated.npy (a [3, 28, 28] header over 100 bytes) and object.npy (a pickled object array)
# are the bad inputs.
set -eu  # no pipefail: head ends the pipelines of test_images early (SIGPIPE)
dir=$1
mkdir -p "$dir"
images=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz

# Magic, version 1.0, header length 118 (little-endian), then the dict padded with spaces and a
# newline to 118 bytes, so that the data starts at byte 128 as NumPy aligns it.
npy_header() { # npy_header DESCR SHAPE
  printf '\x93NUMPY\x01\x00\x76\x00'
  printf '%-117s\n' "{'descr': '$1', 'fortran_order': False, 'shape': $2, }"
}
# The first COUNT test images (the IDX header is 16 bytes).
test_images() { # test_images COUNT
  gzip -dc "$images" | tail -c +17 | head -c $(($1 * 784))
}

{ npy_header '|u1' '(3, 28, 28)'; test_images 3; } >"$dir/x.npy"
[[ $(wc -c <"$dir/x.npy") -eq $((128 + 3 * 784)) ]] || { echo "FAIL: x.npy has the wrong size" >&2; exit 1; }
{ npy_header '|u1' '(2, 27, 27)'; head -c $((2 * 27 * 27)) /dev/zero; } >"$dir/wrong_shape.npy"
{ npy_header '|u1' '(3, 28, 28)'; test_images 1 | head -c 100; } >"$dir/truncated.npy"
{ npy_header '|O' '(1,)'; printf '\x80\x04N.'; } >"$dir/object.npy"
echo "ok: wrote x.npy, wrong_shape.npy, truncated.npy and object.npy to $dir"
