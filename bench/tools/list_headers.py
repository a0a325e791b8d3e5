#!/usr/bin/env python3
"""The reference for header work (bench/scale.sh, RESULTS.md): a plain Python script that opens
every shard of a checkpoint directory and json.loads its header, counting the tensors.

    python3 bench/tools/list_headers.py CKPT_DIR
"""
import json
import os
import struct
import sys


def main():
    d = sys.argv[1]
    n = 0
    for f in sorted(os.listdir(d)):
        if not f.endswith(".safetensors"):
            continue
        with open(os.path.join(d, f), "rb") as fh:
            (k,) = struct.unpack("<Q", fh.read(8))
            h = json.loads(fh.read(k))
            n += len(h) - ("__metadata__" in h)
    print(n)


if __name__ == "__main__":
    main()
