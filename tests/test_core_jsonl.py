"""utils.core.jsonl: the one JSON Lines reader; its errors name the file, the line and where the data comes from."""

import pytest

from utils.core.jsonl import read_jsonl


def test_reads_one_object_per_line_and_skips_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n\n{"id": 2, "text": "é"}\n   \n', encoding="utf-8")
    assert read_jsonl(path, "unused") == [{"id": 1}, {"id": 2, "text": "é"}]


def test_a_missing_file_says_where_the_data_comes_from(tmp_path):
    with pytest.raises(FileNotFoundError, match="rows.jsonl is missing: run the generator"):
        read_jsonl(tmp_path / "rows.jsonl", "run the generator")


def test_a_broken_line_is_named(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"id": 1}\n{"id": 2,\n')
    with pytest.raises(ValueError, match=r"rows.jsonl, line 2 is not valid JSON"):
        read_jsonl(path, "unused")
