"""The recipients file read as a stream: same rows, same file-level errors as a whole-file read."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from blt_status.central.inputs import (
    RECIPIENT_COLUMNS,
    csv_row_estimate,
    iter_csv_rows,
    read_csv_rows,
)
from blt_status.errors import FileFormatError

HEADER = ",".join(RECIPIENT_COLUMNS)
BLOCK = 1 << 20  # the reader's block size


def _big_file(path: Path, *, bom: bool, tail: bytes = b"") -> bytes:
    """A file a little over one block, with a two-byte character across the block boundary."""
    row = ("3201014505900001,3201010101100001,Siti Ñurhaliza,Jl. Mawar {pad}1,"
           "32.01.01.2001,4,1,aktif,")

    def build(pad: int) -> bytes:
        lines = [HEADER, row.format(pad="x" * pad), *([row.format(pad="")] * (BLOCK // 90 + 50))]
        return (codecs.BOM_UTF8 if bom else b"") + "\n".join(lines).encode() + b"\n" + tail

    data = build(0)
    data = build(BLOCK - 1 - data.rfind("Ñ".encode(), 0, BLOCK))
    assert data[BLOCK - 1:BLOCK + 1] == "Ñ".encode()
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("bom", [False, True])
def test_a_file_over_one_block_streams_the_same_rows(tmp_path: Path, bom: bool) -> None:
    path = tmp_path / "recipients.csv"
    data = _big_file(path, bom=bom)
    rows = list(iter_csv_rows(path, RECIPIENT_COLUMNS))
    assert rows == read_csv_rows(path, RECIPIENT_COLUMNS)
    assert len(rows) == data.count(b"\n") - 1
    assert rows[0].line == 2 and rows[-1].line == len(rows) + 1
    assert rows[-1].values["nama"] == "Siti Ñurhaliza"
    assert csv_row_estimate(path) >= len(rows)


@pytest.mark.parametrize("bom", [False, True])
def test_a_bad_byte_after_the_first_block_names_the_same_offset(tmp_path: Path,
                                                                bom: bool) -> None:
    path = tmp_path / "recipients.csv"
    data = _big_file(path, bom=bom, tail=b"32010145059\xff0002,x\n")
    with pytest.raises(UnicodeDecodeError) as whole:
        data.decode("utf-8-sig")
    assert whole.value.start > BLOCK - 3
    with pytest.raises(FileFormatError) as caught:
        next(iter_csv_rows(path, RECIPIENT_COLUMNS))
    assert caught.value.code == "csv_encoding"
    assert f"(byte {whole.value.start})" in caught.value.en_text


def test_a_character_cut_at_the_end_of_the_file_is_an_encoding_error(tmp_path: Path) -> None:
    path = tmp_path / "recipients.csv"
    path.write_bytes(HEADER.encode() + b"\n3201014505900001,\xc3")
    with pytest.raises(FileFormatError) as caught:
        csv_row_estimate(path)
    assert caught.value.code == "csv_encoding"
    assert f"(byte {len(HEADER) + 18})" in caught.value.en_text
