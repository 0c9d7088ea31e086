"""Issue 12 fix 5: CSV edge cases end as bad input naming the line, or are read right."""
from __future__ import annotations

import gzip

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.shards import iter_csv

KINETICS_HEADER = "label,youtube_id,time_start,time_end,split\n"


@pytest.mark.parametrize("gz", [False, True])
def test_a_bom_does_not_hide_the_first_column(tmp_path, gz):
    text = "\ufeff" + KINETICS_HEADER + "abseiling,aaa,0,10,train\nzumba,bbb,5,15,train\n"
    path = tmp_path / ("train.csv.gz" if gz else "train.csv")
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    rows = list(iter_csv(path, required=("label", "youtube_id")))
    assert [r["label"] for r in rows] == ["abseiling", "zumba"]


def test_an_unterminated_quote_is_refused_naming_its_line(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(KINETICS_HEADER + 'abseiling,aaa,0,10,train\n"zumba,bbb,5,15,train\nyoga,ccc,1,11,train\n'
                    'tai chi,"ddd",2,12,train\n')
    with pytest.raises(BadInputError) as err:
        list(iter_csv(path, required=("label",)))
    assert "line 3" in str(err.value) and "quote" in str(err.value)


def test_a_quote_left_open_at_the_end_is_refused(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text(KINETICS_HEADER + 'abseiling,aaa,0,10,train\n"zumba,bbb,5,15,train')
    with pytest.raises(BadInputError) as err:
        list(iter_csv(path))
    assert "line 3" in str(err.value) and "zumba" not in str(err.value)


def test_a_malformed_openimages_row_is_bad_input_naming_the_line(tmp_path):
    from include.visionflow.datasets import openimages as oi

    header = "ImageID,Subset,OriginalURL,OriginalLandingURL,License,AuthorProfileURL,Author,Title," \
             "OriginalSize,OriginalMD5,Thumbnail300KURL,Rotation\n"
    good = "000002b66c9c498e,train,http://x/a.jpg,l,lic,p,a,t,100,aGVsbG8gd29ybGQhISEhIQ==,th,0\n"
    path = tmp_path / "image_ids_and_rotation.csv"
    path.write_text(header + good * 5 + "000002b66c9c498f,train,secret-looking-content\n" + good)
    with pytest.raises(BadInputError) as err:
        oi.load_id_set(path)
    message = str(err.value)
    assert "line 7" in message and "secret-looking-content" not in message
