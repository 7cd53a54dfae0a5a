// Runs ONNX models in ONNX Runtime (npm's onnxruntime-node) on .npy inputs, for the export tests.
//
//   node onnx_run.js MODEL.onnx INPUT.npy OUTPUT.npy [MODEL INPUT OUTPUT ...]
//
// Each input is fed as the model's `x` in its own dtype and shape (C order; either byte order);
// `y` is written as a little-endian float32 .npy. One process runs every triple, so the tests pay
// for loading the runtime once. NODE_PATH points at the build tree's node_modules.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

// dtype string -> [onnxruntime tensor type, TypedArray, bytes, DataView getter]
const DTYPES = {
  b1: ['bool', Uint8Array, 1, 'getUint8'],
  u1: ['uint8', Uint8Array, 1, 'getUint8'],
  u2: ['uint16', Uint16Array, 2, 'getUint16'],
  u4: ['uint32', Uint32Array, 4, 'getUint32'],
  u8: ['uint64', BigUint64Array, 8, 'getBigUint64'],
  i1: ['int8', Int8Array, 1, 'getInt8'],
  i2: ['int16', Int16Array, 2, 'getInt16'],
  i4: ['int32', Int32Array, 4, 'getInt32'],
  i8: ['int64', BigInt64Array, 8, 'getBigInt64'],
  f2: ['float16', Uint16Array, 2, 'getUint16'],
  f4: ['float32', Float32Array, 4, 'getFloat32'],
  f8: ['float64', Float64Array, 8, 'getFloat64'],
};

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(path + ': not a .npy file');
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', start, start + headerLen);
  const descr = /'descr':\s*'([<>|=])(\w\d)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)[1] === 'True';
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  if (!descr || !(descr[2] in DTYPES)) throw new Error(path + ': unsupported dtype in ' + header);
  if (fortran && shape.length > 1) throw new Error(path + ': Fortran order is not supported here');
  const [type, Typed, size, getter] = DTYPES[descr[2]];
  const count = shape.reduce((a, b) => a * b, 1);
  const little = descr[1] !== '>';
  const view = new DataView(buf.buffer, buf.byteOffset + start + headerLen, count * size);
  const data = new Typed(count);
  for (let i = 0; i < count; i++) data[i] = size === 1 ? view[getter](i) : view[getter](i * size, little);
  if (type === 'bool') for (let i = 0; i < count; i++) data[i] = data[i] ? 1 : 0;
  return new ort.Tensor(type, data, shape);
}

function writeNpyF32(path, tensor) {
  const shape = tensor.dims.join(', ') + (tensor.dims.length === 1 ? ',' : '');
  let header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + shape + '), }';
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.alloc(tensor.data.length * 4);
  for (let i = 0; i < tensor.data.length; i++) body.writeFloatLE(tensor.data[i], i * 4);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(header, 'latin1'), body]));
}

async function main(args) {
  if (args.length === 0 || args.length % 3 !== 0) throw new Error('usage: onnx_run.js MODEL INPUT OUTPUT [...]');
  const options = {intraOpNumThreads: 1, interOpNumThreads: 1};
  for (let i = 0; i < args.length; i += 3) {
    const session = await ort.InferenceSession.create(args[i], options);
    const result = await session.run({x: readNpy(args[i + 1])});
    if (result.y.type !== 'float32') throw new Error(args[i] + ': y is ' + result.y.type + ', not float32');
    writeNpyF32(args[i + 2], result.y);
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error('onnx_run.js: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
