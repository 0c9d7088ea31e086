"""The filter's per-image part on real bytes: signatures, rules, the placeholder table and the hash files."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from include.visionflow.errors import DecodeError, ItemError
from include.visionflow.filtering import hashfile, placeholders, rules, signatures
from include.visionflow.manifest import Status
from include.visionflow.storage import open_storage


def jpeg(im: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> bytes:
    from include.sample_source.media import skimage_photos

    return jpeg(Image.open(skimage_photos()["astronaut"]).convert("RGB").resize((2048, 2048)))


def test_signature_records_the_original_size_and_hashes_the_drafted_image(astronaut):
    sig = signatures.compute("a", astronaut)
    assert (sig.width, sig.height, sig.bytes) == (2048, 2048, len(astronaut))
    assert sig.grey_std > 30
    import hashlib

    assert sig.md5 == hashlib.md5(astronaut).hexdigest()
    smaller = signatures.compute("b", jpeg(Image.open(io.BytesIO(astronaut)).resize((500, 500)), 60))
    assert signatures.hamming(sig.phash, smaller.phash) <= 4
    assert -(1 << 63) <= sig.phash < (1 << 63) and -(1 << 63) <= sig.dhash < (1 << 63)


def test_a_truncated_jpeg_is_a_typed_item_error(astronaut):
    with pytest.raises(DecodeError) as err:
        signatures.compute("t", astronaut[: len(astronaut) // 2])
    assert err.value.reason == "truncated_image" and "truncated" in err.value.detail
    assert isinstance(err.value, ItemError) and err.value.status is Status.FAILED_DECODE
    with pytest.raises(DecodeError, match="not_an_image"):
        signatures.compute("h", b"<html>gone</html>")


def test_one_colour_and_one_pixel_images_are_rejected_with_their_reasons(astronaut):
    black = signatures.compute("black", jpeg(Image.new("RGB", (640, 480), (0, 0, 0))))
    pixel = signatures.compute("pixel", jpeg(Image.new("RGB", (1, 1), (200, 10, 10))))
    faint = Image.new("RGB", (640, 480), (90, 90, 90))
    faint.paste((102, 102, 102), (240, 190, 400, 290))  # a faint logo on a flat frame: grey std ~2.7
    strip = signatures.compute("strip", jpeg(Image.open(io.BytesIO(astronaut)).resize((2000, 100))))
    default = rules.Rules()
    assert default.reason(black) == "one_colour"
    assert default.reason(pixel) == "too_small"
    assert default.reason(signatures.compute("faint", jpeg(faint))) == "near_one_colour"
    assert default.reason(strip) == "bad_aspect_ratio"
    assert default.reason(signatures.compute("a", astronaut)) is None
    # every rule is a parameter
    assert rules.Rules(min_short_side=1, max_aspect=1e9, min_bytes=0).reason(pixel) == "one_colour"
    assert rules.Rules(min_bytes=10 ** 9).reason(signatures.compute("a", astronaut)) == "too_few_bytes"


def test_the_sample_sources_stand_in_placeholder_is_served_with_200_and_recognised():
    from include.sample_source.server import SampleSource
    from include.visionflow.fetch.http import image_fetcher

    import tempfile

    source = SampleSource(tempfile.mkdtemp(prefix="vf-placeholder-"), s3_port=None).start(["flickr_api"])
    try:
        data = image_fetcher().fetch_bytes(source.urls["flickr_placeholder_url"])  # raises on anything but 2xx
    finally:
        source.stop()
    sig = signatures.compute("deleted", data)
    hit = placeholders.match(sig)
    assert hit is not None and hit.source == "visionflow sample source stand-in"
    # the same grey picture at another size is not that placeholder (size is part of the match)
    resized = signatures.compute("other", jpeg(Image.open(io.BytesIO(data)).convert("RGB").resize((400, 300))))
    assert placeholders.match(resized) is None


def test_the_placeholder_table_says_which_entries_are_not_measured(astronaut):
    table = placeholders.load()
    assert all(e.source and e.name for e in table)
    assert "flickr_photo_unavailable" in placeholders.unmeasured()  # no hash was invented for it
    assert placeholders.match(signatures.compute("a", astronaut)) is None


def test_hash_files_have_typed_columns(tmp_path, astronaut):
    import pyarrow as pa

    storage = open_storage(str(tmp_path))
    sig = signatures.compute("a", astronaut)
    hashfile.write(storage, "h/shard-00000.hashes.parquet", [sig])
    table = hashfile.read_columns(storage, "h/shard-00000.hashes.parquet", hashfile.COLUMNS)
    assert table.schema.field("phash").type == pa.int64() and table.schema.field("width").type == pa.int32()
    assert table.to_pylist()[0]["phash"] == sig.phash
    assert hashfile.count(storage, "h/shard-00000.hashes.parquet") == 1
