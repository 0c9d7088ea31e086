"""The filter engine (issue 23): plain Python, no Airflow, one job per module.

* ``signatures``: bytes in, one :class:`~.signatures.Signature` out (pHash, dHash, MD5, sizes, one-colour
  measure); an undecodable or truncated image is a typed :class:`~include.visionflow.errors.DecodeError`.
* ``hashfile``: a shard's signatures as a typed Parquet file (what the grouping reads, so a threshold change
  re-runs the grouping only, never the hashing).
* ``rules``: size, shape, file-size and one-colour rules on a signature; a reason code or None.
* ``placeholders``: known "this photo is unavailable" images from ``placeholders.json``.
* ``groups``: exact (MD5) and near (pHash within a Hamming radius) duplicates over the whole dataset, in
  bounded memory, from the shards' hash files.
"""
