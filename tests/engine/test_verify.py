from __future__ import annotations

import base64
import hashlib

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.verify import file_md5, md5_matches, normalize_md5

DATA = b"open images"
HEX = hashlib.md5(DATA).hexdigest()
B64 = base64.b64encode(hashlib.md5(DATA).digest()).decode()


def test_base64_and_hex_digests_both_match():
    assert md5_matches(DATA, B64)
    assert md5_matches(DATA, HEX) and md5_matches(DATA, HEX.upper())
    assert normalize_md5(B64) == HEX


def test_mismatch_is_false_not_error():
    assert not md5_matches(DATA + b"!", B64)


@pytest.mark.parametrize("bad", ["", "abc", "not base64 at all!", base64.b64encode(b"short").decode()])
def test_malformed_expected_digest_is_a_clear_error(bad):
    with pytest.raises(BadInputError, match="neither a 32-char hex MD5 nor a base64 MD5"):
        normalize_md5(bad)


def test_file_md5(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert file_md5(path) == HEX
