"""Case 5's baseline: upstream ``convert_to_mmaps.py``, a line-by-line loop into a numpy memmap.

``python -m bench.baseline_memmap LIST.tsv.gz OUT.memmap N`` (formats.md 1.4: entry i = last column of line i,
asserted shorter than 120 characters, ``S120``, lines past N ignored).
"""
from __future__ import annotations

import gzip
import sys

import numpy as np


def main(argv: list[str]) -> int:
    subset, out, size = argv[0], argv[1], int(argv[2])
    fns = np.memmap(out, dtype="S120", mode="w+", shape=(size,))
    with gzip.open(subset, "rt") as fh:
        for i, line in enumerate(fh):
            if i >= size:
                break
            fn = line.strip().split("\t")[-1]
            assert len(fn) < 120
            fns[i] = fn
    fns.flush()
    print(i + 1 if size else 0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
