"""The filter's grouping: real photos and their edits group, different photos do not (precision and recall
measured on ~2,150 images), exact copies keep the lowest key, the partitioned search finds exactly what a
brute-force comparison finds, and its memory stays flat as the input grows."""
from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from include.visionflow.filtering import groups, hashfile, signatures
from include.visionflow.filtering.signatures import Signature
from include.visionflow.storage import open_storage


def write_shards(storage, sigs: list[Signature], per_shard: int, prefix: str = "h") -> list[str]:
    rels = []
    for s, start in enumerate(range(0, len(sigs), per_shard)):
        rel = f"{prefix}/shard-{s:05d}.hashes.parquet"
        hashfile.write(storage, rel, sigs[start:start + per_shard])
        rels.append(rel)
    return rels


def decisions(storage, rels: list[str]) -> list[dict]:
    return [row for rel in rels for row in groups.read_decisions(storage, groups.default_out_rel(rel))]


def group_of(rows: list[dict]) -> dict[str, str]:
    """key -> the kept item it belongs to (following an exact copy's representative to its group's)."""
    rep = {r["key"]: r["representative"] or r["key"] for r in rows}
    out = {}
    for key in rep:
        seen = key
        while rep[seen] != seen:
            seen = rep[seen]
        out[key] = seen
    return out


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory):
    from include.sample_source.near_duplicates import generate

    folder = tmp_path_factory.mktemp("near-duplicates")
    index = generate(folder)
    sigs = [signatures.compute(row["file"], (folder / row["file"]).read_bytes()) for row in index]
    return index, sigs


def test_edited_photos_group_with_their_originals_and_different_photos_do_not(photo_set, tmp_path):
    index, sigs = photo_set
    assert len(index) >= 2000
    storage = open_storage(str(tmp_path / "out"))
    rels = write_shards(storage, sigs, per_shard=400)
    # small partitions: the set is spread over many partition files, as a crawl would be
    summary = groups.group(storage, rels, tmp_path / "scratch", groups.Params(partition_rows=3000))
    assert summary.partitions > 10
    found = group_of(decisions(storage, rels))
    source = {row["file"]: row["source"] for row in index}

    true_pairs = pred_pairs = both = 0
    for a, b in itertools.combinations(source, 2):
        same, grouped = source[a] == source[b], found[a] == found[b]
        true_pairs += same
        pred_pairs += grouped
        both += same and grouped
    precision, recall = both / pred_pairs, both / true_pairs
    # Per edit: how often the edited copy lands in its original's group.
    orig = {row["source"]: row["file"] for row in index if row["edit"] == "orig"}
    per_edit = defaultdict(list)
    for row in index:
        per_edit[row["edit"]].append(found[row["file"]] == found[orig[row["source"]]])
    figures = {"images": len(index), "sources": len(orig), "precision": round(precision, 4),
               "recall": round(recall, 4), "counts": summary.counts,
               "per_edit_recall": {e: round(sum(v) / len(v), 3) for e, v in sorted(per_edit.items())}}
    print("near-duplicate figures:", json.dumps(figures))
    (tmp_path / "figures.json").write_text(json.dumps(figures))
    assert precision >= 0.97, figures
    assert recall >= 0.85, figures
    for edit in ("q40", "half", "three_quarter_q70", "warm_tint", "grey_brighter", "png"):
        assert figures["per_edit_recall"][edit] >= 0.9, (edit, figures)
    for edit in ("crop3", "crop_corner"):  # pHash is least robust to shifts: a few pixels on a 170-px tile
        assert figures["per_edit_recall"][edit] >= 0.6, (edit, figures)
    # Different whole photos never group, but for the one stereo pair (two views a few cm apart).
    photos = sorted(f for f, s in source.items() if f.endswith("--orig.jpg") and "-tile" not in s)
    merged = [(a, b) for a, b in itertools.combinations(photos, 2)
              if found[a] == found[b] and source[a] != source[b]]
    assert set(merged) <= {("motorcycle_left--orig.jpg", "motorcycle_right--orig.jpg")}, merged


def test_exact_copies_under_different_keys_keep_the_lowest_key(photo_set, tmp_path):
    index, sigs = photo_set
    base = sigs[0]
    copies = [Signature(**{**base.__dict__, "key": key}) for key in ("k50", "k07", "k30")]
    others = sigs[10:60]
    storage = open_storage(str(tmp_path))
    # the copies sit in different shards, the lowest key in the last one
    rels = write_shards(storage, [copies[0], *others[:25], copies[2], *others[25:], copies[1]], per_shard=20)
    summary = groups.group(storage, rels, tmp_path / "scratch")
    rows = {r["key"]: r for r in decisions(storage, rels)}
    assert rows["k07"]["decision"] == "kept"
    for key in ("k50", "k30"):
        assert rows[key] == {"key": key, "decision": "exact_duplicate", "representative": "k07", "distance": 0}
    assert summary.counts["exact_duplicate"] == 2


def random_hashes(n: int, planted: int, seed: int, shared_low_bits: int = 0) -> list[Signature]:
    """``n`` random 64-bit hashes, ``planted`` of them copies of others with 0-6 bits flipped; with
    ``shared_low_bits`` all hashes share their lowest bits (clustered, as real pHashes are: big key groups)."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 1 << 64, size=n, dtype=np.uint64) >> np.uint64(shared_low_bits) << np.uint64(
        shared_low_bits)
    for i in rng.choice(n, size=planted, replace=False):
        v = int(codes[rng.integers(n)])
        for bit in rng.choice(64, size=rng.integers(0, 7), replace=False):
            v ^= 1 << int(bit)
        codes[i] = v
    values = codes.view(np.int64).tolist()
    return [Signature(f"k{i:07d}", f"{i:032x}", v, 0, 100, 100, 5000, 30.0) for i, v in enumerate(values)]


@pytest.mark.parametrize("radius, bands, shared", [(4, None, 0), (4, 5, 0), (2, None, 0), (0, None, 0),
                                                   (7, None, 0), (4, None, 22), (4, None, 30)])
def test_the_partitioned_search_finds_exactly_the_brute_force_groups(tmp_path, radius, bands, shared):
    """Random hashes, and clustered ones whose key groups are large enough for the faiss path."""
    from scipy.sparse.csgraph import connected_components

    sigs = random_hashes(2500, planted=900, seed=radius, shared_low_bits=shared)
    storage = open_storage(str(tmp_path))
    rels = write_shards(storage, sigs, per_shard=700)
    groups.group(storage, rels, tmp_path / "scratch", groups.Params(radius=radius, partition_rows=4000,
                                                                     bands=bands))
    found = group_of(decisions(storage, rels))
    codes = np.array([s.phash for s in sigs], dtype=np.int64).view(np.uint64)
    _, labels = connected_components(np.bitwise_count(codes[:, None] ^ codes[None, :]) <= radius, directed=False)
    lowest = {}
    for sig, label in zip(sigs, labels):
        lowest[label] = min(lowest.get(label, sig.key), sig.key)
    assert {s.key: lowest[l] for s, l in zip(sigs, labels)} == found


def test_a_new_radius_regroups_from_the_hash_files_alone(photo_set, tmp_path):
    """The grouping reads only the hash files: no image is needed to change the threshold."""
    _, sigs = photo_set
    storage = open_storage(str(tmp_path))
    rels = write_shards(storage, sigs[:500], per_shard=100)
    tight = groups.group(storage, rels, tmp_path / "s", groups.Params(radius=0))
    loose = groups.group(storage, rels, tmp_path / "s", groups.Params(radius=8))
    assert tight.counts["near_duplicate"] < loose.counts["near_duplicate"]
    assert all(storage.exists(groups.default_out_rel(rel)) for rel in rels)


def test_the_groupings_peak_memory_stays_flat_as_the_input_grows(tmp_path):
    """Peak Python memory (numpy's arrays included) barely moves when the input grows eightfold."""
    import tracemalloc

    def peak(n: int) -> int:
        storage = open_storage(str(tmp_path / f"n{n}-{len(list(tmp_path.iterdir()))}"))
        rels = write_shards(storage, random_hashes(n, planted=n // 100, seed=n), per_shard=5000)
        tracemalloc.start()
        summary = groups.group(storage, rels, tmp_path / "scratch", groups.Params(partition_rows=20_000))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert summary.items == n
        return top

    peak(10_000)  # warm-up: first calls import lazily, and tracemalloc counts that too
    small, large = peak(20_000), peak(160_000)
    # Memory that grew with the input would be ~8x here; a flat grouping holds one partition and one shard.
    assert large < small * 2, (small, large)
