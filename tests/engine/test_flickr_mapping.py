"""Record mapping on every recorded Flickr fixture (tests/resources/flickr, from Openverse's test resources)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.visionflow.errors import BadInputError
from include.visionflow.formats.openverse_tsv import COLUMNS, NULL, parse_row, to_row
from include.visionflow.sources.base import Dropped
from include.visionflow.sources.flickr import (
    LICENSES,
    OPENVERSE_SIZE_PREFERENCE,
    SEED_SIZE_PREFERENCE,
    FlickrMapper,
    License,
    choose_size,
    clean_description,
    create_tags,
    license_table,
    meta_data,
    validate_url,
)
from include.visionflow.sources.flickr_api import parse_search

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "flickr"


def load(name: str):
    return json.loads((RESOURCES / name).read_text())


def test_every_fixture_is_covered_here():
    covered = {
        "flickr_example_pretty.json", "flickr_example_photo_list.json", "image_data_complete_example.json",
        "image_data_sub_provider_example.json", "image_data_with_large_url_available.json",
        "image_data_with_med_url_available.json", "image_data_with_small_url_available.json",
        "image_data_no_image_url.json", "image_data_html_description.json",
        "image_data_whitespace_description.json", "image_data_long_tags_string.json",
        "image_data_unsorted_tags.json", "image_data_varying_tags_whitespace.json",
    }
    assert {p.name for p in RESOURCES.glob("*.json")} == covered


def test_full_response_parses_and_maps_all_30_records():
    data = load("flickr_example_pretty.json")
    page = parse_search(data)
    assert (page.page, page.pages, page.perpage, page.total) == (1, 1, 500, 30)  # total is the string "30"
    records = [FlickrMapper()(p) for p in page.photos]
    assert len(records) == 30 and not any(isinstance(r, Dropped) for r in records)
    assert len({r.foreign_identifier for r in records}) == 30
    assert page.photos == load("flickr_example_photo_list.json")
    for record in records:
        row = to_row(record).split("\t")
        assert len(row) == len(COLUMNS) + 1 and all("\n" not in c for c in row)


def test_complete_example_maps_like_openverse():
    record = FlickrMapper(size_preference=OPENVERSE_SIZE_PREFERENCE)(load("image_data_complete_example.json"))
    assert record.foreign_identifier == "49514824541"
    assert record.foreign_landing_url == "https://www.flickr.com/photos/71925535@N03/49514824541"
    assert record.creator_url == "https://www.flickr.com/photos/71925535@N03"
    assert record.url == "https://live.staticflickr.com/65535/49514824541_35d1b4f8db_b.jpg"
    assert (record.width, record.height, record.filetype) == (1024, 683, "jpg")
    assert (record.license, record.license_version) == ("by-nc-sa", "2.0")
    assert record.creator == "Marine Explorer"
    assert record.title == "Surveying Ruperts Reef @reeflifesurvey #lapofaus #marineexplorer"
    assert record.meta_data == {
        "pub_date": "1581318235", "date_taken": "2020-02-10 09:38:16", "views": "70",
        "description": "We had spectacular underwater scenery with great visibility today despite the big seas "
                       "and winds at Lord Howe Island.",
        "license_url": "https://creativecommons.org/licenses/by-nc-sa/2.0/", "raw_license_url": None,
    }
    assert [t["name"] for t in record.tags] == ["australia", "marine", "marineexplorer", "nature", "scuba",
                                                "underwater"]
    assert all(t["provider"] == "flickr" for t in record.tags)
    assert (record.category, record.source, record.provider) == ("photograph", "flickr", "flickr")


def test_complete_example_with_the_seed_size_preference_takes_medium():
    record = FlickrMapper(size_preference=SEED_SIZE_PREFERENCE)(load("image_data_complete_example.json"))
    assert record.url == "https://live.staticflickr.com/65535/49514824541_35d1b4f8db.jpg"
    assert (record.width, record.height) == (500, 333)


def test_sub_provider_owner_becomes_the_source_and_no_content_type_means_no_category():
    record = FlickrMapper()(load("image_data_sub_provider_example.json"))
    assert record.source == "nasa"
    assert record.category is None
    # The fixture's `secret` does not match its URLs: the URL is taken as given, never rebuilt.
    assert record.url == "https://live.staticflickr.com/65535/49950595947_65a3560ddc.jpg"


@pytest.mark.parametrize("name, preference, expected", [
    ("image_data_with_large_url_available.json", OPENVERSE_SIZE_PREFERENCE, "l"),
    ("image_data_with_large_url_available.json", SEED_SIZE_PREFERENCE, "m"),
    ("image_data_with_med_url_available.json", OPENVERSE_SIZE_PREFERENCE, "m"),
    ("image_data_with_small_url_available.json", OPENVERSE_SIZE_PREFERENCE, "s"),
    ("image_data_with_small_url_available.json", SEED_SIZE_PREFERENCE, "s"),
    ("image_data_no_image_url.json", OPENVERSE_SIZE_PREFERENCE, None),
])
def test_size_choice_with_width_and_height(name, preference, expected):
    photo = load(name)
    size = choose_size(photo, preference)
    if expected is None:
        assert size is None
        return
    assert size.url == photo[f"url_{expected}"]
    assert (size.width, size.height) == (photo[f"width_{expected}"], photo[f"height_{expected}"])


def test_photo_with_only_a_thumbnail_is_dropped():
    assert FlickrMapper()(load("image_data_no_image_url.json")) == Dropped("no_image_url")


def test_html_description_is_reduced_to_text():
    meta = meta_data(load("image_data_html_description.json"))
    assert meta["description"] == ("Warsy (Somme, France) -\n\n"
                                   "www.google.com/maps/@49.69839,2.64689,3a,90y,102.98h,114....")
    assert meta["pub_date"] == "1571326372" and meta["views"] == "9"


def test_whitespace_description_is_left_out():
    meta = meta_data(load("image_data_whitespace_description.json"))
    assert "description" not in meta
    assert meta == {"pub_date": "1571326372", "date_taken": "2019-09-07 16:26:44", "views": "9"}


def test_description_is_capped_at_2000_characters():
    assert len(clean_description({"_content": "<p>" + "x" * 5000 + "</p>"})) == 2000


def test_long_tag_string_is_cut_before_splitting():
    assert create_tags(load("image_data_long_tags_string.json")["tags"], 37) == [
        "tag1", "tag2", "tag3", "tag4", "tag5", "tag6"]


def test_unsorted_tags_are_sorted():
    assert create_tags(load("image_data_unsorted_tags.json")["tags"]) == ["tag1", "tag2", "tag3"]


def test_tags_with_varying_whitespace_are_deduplicated():
    assert create_tags(load("image_data_varying_tags_whitespace.json")["tags"]) == ["tag1", "tag2", "tag3"]


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_missing_tags_give_an_empty_list(raw):
    assert create_tags(raw) == []


def test_denylisted_tags_are_removed():
    photo = {**load("image_data_complete_example.json"), "tags": "sea squareformat uploaded:by=app cc-by-2.0 sky"}
    assert [t["name"] for t in FlickrMapper()(photo).tags] == ["sea", "sky"]


@pytest.mark.parametrize("value, expected", [(1, ("by-nc-sa", "2.0")), ("4", ("by", "2.0")),
                                             ("9", ("cc0", "1.0")), ("10", ("pdm", "1.0"))])
def test_license_id_as_int_or_string(value, expected):
    record = FlickrMapper()({**load("image_data_complete_example.json"), "license": value})
    assert (record.license, record.license_version) == expected


@pytest.mark.parametrize("value", ["0", "7", "8", "11", "", None, "abc"])
def test_unknown_license_drops_the_record(value):
    assert FlickrMapper()({**load("image_data_complete_example.json"), "license": value}) == \
        Dropped("unknown_license")


def test_connection_extra_extends_the_license_table():
    table = license_table({"11": ["by", "4.0"], "12": {"license": "by-sa", "version": "4.0"}})
    assert table[11] == License("by", "4.0") and table[12].url == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert {k: table[k] for k in LICENSES} == LICENSES
    record = FlickrMapper(licenses=table)({**load("image_data_complete_example.json"), "license": "11"})
    assert (record.license, record.license_version) == ("by", "4.0")
    with pytest.raises(BadInputError, match="licence extension"):
        license_table({"13": ["by-foo", "4.0"]})


@pytest.mark.parametrize("field, reason", [("id", "no_id"), ("owner", "no_owner")])
def test_missing_id_or_owner_drops_the_record(field, reason):
    photo = load("image_data_complete_example.json")
    photo.pop(field)
    assert FlickrMapper()(photo) == Dropped(reason)


@pytest.mark.parametrize("url, expected", [
    ("https://live.staticflickr.com/a.jpg", "https://live.staticflickr.com/a.jpg"),
    ("live.staticflickr.com/a.jpg", "https://live.staticflickr.com/a.jpg"),
    ("https://www.flickr.com/photos/x/", "https://www.flickr.com/photos/x"),
    ("http://127.0.0.1:8080/flickr/a.jpg", "http://127.0.0.1:8080/flickr/a.jpg"),
    ("https://localhost/a.jpg", None), ("https://nodomain/a.jpg", None), ("ftp://example.com/a", None),
    ("", None), (None, None),
])
def test_url_validation_is_offline(url, expected):
    assert validate_url(url) == expected


def test_tsv_row_escapes_and_nulls():
    photo = {**load("image_data_complete_example.json"), "title": 'A "quoted"\ttitle\nwith \\ slash',
             "ownername": "x" * 2100, "content_type": "1"}
    record = FlickrMapper()(photo)
    line = to_row(record)
    cells = line.split("\t")
    assert len(cells) == 21 and "\n" not in line
    row = parse_row(line)
    assert row["title"] == "A 'quoted' title with \\\\ slash"
    assert len(row["creator"]) == 2000
    assert row["category"] is None and cells[COLUMNS.index("category")] == NULL
    assert row["thumbnail"] is None and row["filesize"] is None
    assert json.loads(row["meta_data"])["license_url"].startswith("https://creativecommons.org/")
    assert row["bucket"].isdigit() and len(row["bucket"]) == 4
    assert to_row(record) == line  # the bucket is a function of the id
