#!/usr/bin/python3
"""Same-run baseline for packages/analysis/bench/analysis-bench.ts: the projection step in numpy.

Reads the bench's activation files (safetensors parsed by hand, so only numpy is needed), converts each
response tensor from f16 to f32, projects it onto the same trait and random unit vectors with one matmul
(numpy's BLAS), and forms the per-response mean cosine for both variants; prints JSON with the seconds.
It does not write anything. The bench runs it in every repeat (unless --skip-numpy); by hand:
    /usr/bin/python3 tools/analysis/bench-numpy-projection.py <experiment dir> <layers> <random vectors>
"""
import json
import os
import struct
import sys
import time

import numpy as np


def read_header(handle):
    (length,) = struct.unpack('<Q', handle.read(8))
    return json.loads(handle.read(length)), 8 + length


def main():
    root, layer_count, random_count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    started = time.perf_counter()
    vectors = []
    for category in sorted(os.listdir(os.path.join(root, 'extraction'))):
        for trait in sorted(os.listdir(os.path.join(root, 'extraction', category))):
            path = os.path.join(root, 'extraction', category, trait, 'vectors', 'probe.safetensors')
            with open(path, 'rb') as handle:
                header, start = read_header(handle)
                data = handle.read()
            per_layer = []
            for layer in range(layer_count):
                begin, end = header[f'layer.{layer}']['data_offsets']
                per_layer.append(np.frombuffer(data[begin:end], dtype=np.float32))
            vectors.append(np.stack(per_layer))
    bank = np.stack(vectors, axis=1)  # [layer, K, D]
    rng = np.random.default_rng(0)
    random = rng.standard_normal((layer_count, random_count, bank.shape[2])).astype(np.float32)
    bank = np.concatenate([bank, random], axis=1)
    bank /= np.linalg.norm(bank, axis=2, keepdims=True)
    unit = np.ascontiguousarray(bank.transpose(0, 2, 1))  # [layer, D, K]
    means = {}
    bytes_read = 0
    for variant in ('clean', 'lora'):
        directory = os.path.join(root, 'inference', variant, 'bench', 'activations')
        rows = []
        for name in sorted(os.listdir(directory)):
            with open(os.path.join(directory, name), 'rb') as handle:
                header, start = read_header(handle)
                out = np.empty((layer_count, unit.shape[2]), dtype=np.float64)
                for layer in range(layer_count):
                    entry = header[f'response.resid_post.{layer}']
                    begin, end = entry['data_offsets']
                    handle.seek(start + begin)
                    raw = handle.read(end - begin)
                    bytes_read += len(raw)
                    h = np.frombuffer(raw, dtype=np.float16).reshape(entry['shape']).astype(np.float32)
                    cosine = (h @ unit[layer]) / np.linalg.norm(h, axis=1, keepdims=True)
                    out[layer] = cosine.mean(axis=0)
                rows.append(out)
        means[variant] = np.stack(rows)
    seconds = time.perf_counter() - started
    print(json.dumps({'numpySeconds': seconds, 'bytesRead': bytes_read, 'numpy': np.__version__}))


if __name__ == '__main__':
    main()
