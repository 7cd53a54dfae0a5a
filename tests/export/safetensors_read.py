"""An independent safetensors reader for the export tests: json and numpy on the raw bytes.

    python3 safetensors_read.py FILE.safetensors NPY_FOLDER

Checks the format rules (8-byte little-endian header length, a JSON header, data_offsets in
order without gaps covering the whole rest of the file, F32 tensors whose byte count matches
their shape, __metadata__ of strings), then that each tensor equals NPY_FOLDER/<name>.npy bit
for bit and that the folder holds no other tensor. Prints the metadata as JSON on success;
exit 1 with the reason otherwise.
"""
import json
import os
import struct
import sys

import numpy as np


def fail(message):
    print(f"safetensors_read.py: {message}", file=sys.stderr)
    sys.exit(1)


def main(path, folder):
    raw = open(path, "rb").read()
    if len(raw) < 8:
        fail("shorter than the 8-byte header length")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        fail(f"header length {n} runs past the end of the file")
    if n % 8 != 0:
        fail(f"header length {n} is not a multiple of 8")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    data = raw[8 + n :]
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        fail(f"__metadata__ missing or not a map of strings: {meta!r}")
    end = 0
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, stop = info["data_offsets"]
        if begin != end:
            fail(f"{name}: starts at {begin}, the previous tensor ended at {end}")
        if info["dtype"] != "F32":
            fail(f"{name}: dtype {info['dtype']}")
        shape = tuple(info["shape"])
        if stop - begin != 4 * int(np.prod(shape, dtype=np.int64)):
            fail(f"{name}: {stop - begin} bytes for shape {shape}")
        tensor = np.frombuffer(data[begin:stop], dtype="<f4").reshape(shape)
        expected = np.load(os.path.join(folder, name + ".npy"))
        if expected.dtype != np.float32 or expected.shape != shape:
            fail(f"{name}: {expected.dtype} {expected.shape} in the .npy export, {shape} here")
        if tensor.tobytes() != expected.astype("<f4").tobytes():
            fail(f"{name}: differs from {name}.npy")
        end = stop
    if end != len(data):
        fail(f"tensors end at {end}, the data at {len(data)}")
    npy_names = {f[:-4] for f in os.listdir(folder) if f.endswith(".npy")}
    if npy_names != set(header):
        fail(f"tensor names {sorted(header)} differ from the .npy export's {sorted(npy_names)}")
    print(json.dumps(meta, sort_keys=True))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: safetensors_read.py FILE.safetensors NPY_FOLDER")
    main(sys.argv[1], sys.argv[2])
