#!/usr/bin/env python3
"""A small safetensors writer in plain Python (no numpy, no torch), for the synthetic fixtures
of vLLM-only MoE families: checkpoints no transformers class can save, built from the tensor
names their published checkpoints use and vLLM loads. Values are deterministic pseudo-random
bf16 numbers; the names, dtypes and shapes are what matters to moeckpt's mapping tests.

    from stwriter import Checkpoint
    ck = Checkpoint(seed=0)
    ck.add("model.embed_tokens.weight", "BF16", [128, 64])
    ck.save("testdata/vllm_only/grok1", config={...})   # model.safetensors + config.json
"""
import json
import os
import random
import struct

DTYPE_BYTES = {"BF16": 2, "F16": 2, "F32": 4, "I64": 8, "I32": 4, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E8M0": 1, "BOOL": 1}


class Checkpoint:
    def __init__(self, seed=0):
        self.rng = random.Random(seed)
        self.tensors = {}

    def _bytes(self, dtype, n):
        if dtype == "BF16":
            # small normal values: sign, exponent 0x78..0x7c (~2^-7..2^-3), random mantissa
            out = bytearray()
            for _ in range(n):
                b = (self.rng.getrandbits(1) << 15) | ((0x78 + self.rng.randrange(5)) << 7) | self.rng.getrandbits(7)
                out += struct.pack("<H", b)
            return bytes(out)
        if dtype == "F32":
            return b"".join(struct.pack("<f", self.rng.uniform(-0.1, 0.1)) for _ in range(n))
        if dtype == "F8_E4M3":
            return bytes((self.rng.getrandbits(1) << 7) | self.rng.randrange(0x20, 0x58) for _ in range(n))
        if dtype == "F8_E8M0":
            return bytes(self.rng.randrange(118, 130) for _ in range(n))
        if dtype in ("I64", "I32"):
            w = DTYPE_BYTES[dtype]
            return b"".join(int(self.rng.randrange(0, 4)).to_bytes(w, "little") for _ in range(n))
        return bytes(self.rng.getrandbits(8) for _ in range(n * DTYPE_BYTES[dtype]))

    def add(self, name, dtype, shape, data=None):
        if name in self.tensors:
            raise ValueError(f"duplicate tensor {name}")
        n = 1
        for d in shape:
            n *= d
        if data is None:
            data = self._bytes(dtype, n)
        assert len(data) == n * DTYPE_BYTES[dtype], name
        self.tensors[name] = (dtype, list(shape), data)

    def save(self, directory, config=None, filename="model.safetensors", metadata=None):
        os.makedirs(directory, exist_ok=True)
        header, offset, blobs = {}, 0, []
        if metadata is None:
            metadata = {"format": "pt"}
        header["__metadata__"] = metadata
        for name in sorted(self.tensors):
            dtype, shape, data = self.tensors[name]
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
            offset += len(data)
            blobs.append(data)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * ((8 - len(text) % 8) % 8)
        with open(os.path.join(directory, filename), "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            for b in blobs:
                f.write(b)
        if config is not None:
            with open(os.path.join(directory, "config.json"), "w") as f:
                json.dump(config, f, indent=2, sort_keys=True)
                f.write("\n")
