// Runs every MODEL.onnx of a folder in ONNX Runtime (npm onnxruntime-node, CPU) and compares its
// outputs with nabla's: the folder holds, per model, MODEL.in.<input>.npy (the inputs nabla ran
// on) and MODEL.out.<output>.npy (nabla's outputs), as tests/io/test_onnx_export.cpp writes them.
// Prints the largest absolute difference per model; exits 1 when one exceeds the tolerance.
//   node onnx_runtime_check.js DIR [TOLERANCE=1e-5]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'onnxruntime', 'node_modules', 'onnxruntime-node'));

// NumPy's .npy, as nabla's save_npy writes it: version 1.0, C order, '<f4' or '<i8'.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not an .npy file`);
  const headerLength = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + headerLength);
  const descr = /'descr': '([^']+)'/.exec(header)[1];
  const shape = /'shape': \(([^)]*)\)/.exec(header)[1].split(',').filter((s) => s.trim() !== '')
                    .map((s) => parseInt(s, 10));
  const data = buf.subarray(10 + headerLength);
  const bytes = new Uint8Array(data).buffer;  // a copy, aligned for the typed array
  if (descr === '<f4') return new ort.Tensor('float32', new Float32Array(bytes), shape);
  if (descr === '<i8') return new ort.Tensor('int64', new BigInt64Array(bytes), shape);
  throw new Error(`${file}: dtype ${descr} is not used by the export check`);
}

async function main() {
  const dir = process.argv[2];
  const tolerance = process.argv.length > 3 ? parseFloat(process.argv[3]) : 1e-5;
  const models = fs.readdirSync(dir).filter((f) => f.endsWith('.onnx')).sort();
  if (models.length === 0) throw new Error(`${dir}: no .onnx files`);
  let failed = false;
  for (const file of models) {
    const name = file.slice(0, -5);
    const session = await ort.InferenceSession.create(path.join(dir, file));
    const feeds = {};
    for (const input of session.inputNames) {
      feeds[input] = readNpy(path.join(dir, `${name}.in.${input}.npy`));
    }
    const results = await session.run(feeds);
    let worst = 0;
    for (const output of session.outputNames) {
      const expected = readNpy(path.join(dir, `${name}.out.${output}.npy`));
      const got = results[output];
      if (got.dims.join(',') !== expected.dims.join(',')) {
        throw new Error(`${name}: output ${output} has shape [${got.dims}], nabla's [${expected.dims}]`);
      }
      for (let i = 0; i < got.data.length; ++i) {
        const d = Math.abs(got.data[i] - expected.data[i]);
        if (!(d <= worst)) worst = d;  // NaN counts as a failure
      }
    }
    const ok = worst <= tolerance;
    failed = failed || !ok;
    console.log(`${name}: max |onnxruntime - nabla| = ${worst.toExponential(3)} ` +
                `(${ok ? 'ok' : 'FAILED'}, tolerance ${tolerance})`);
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(`onnx_runtime_check: ${e.message}`);
  process.exit(1);
});
