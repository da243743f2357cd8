"""Legacy Vietnamese encodings (TCVN3, VNI, cp1258): tables, detection, conversion, NFC."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from geo import encoding
from geo.names import match_key

CITY = Path(__file__).parent / "data" / "tn-city-2009"
NAMES = [
    "Xã Quyết Thắng",
    "Thôn Đồng Kiệm",
    "Xóm Cây Thị",
    "Tổ dân phố số 5",
    "Phường Hoàng Văn Thụ",
]


def as_tcvn3(text: str) -> str:
    reverse = {v: chr(k) for k, v in encoding.TCVN3_TABLE.items() if k >= 0xA1}
    return "".join(reverse.get(ch, ch) for ch in text)


def as_vni(text: str) -> str:
    reverse = {v: k for k, v in encoding.VNI_TABLE.items()}
    return "".join(reverse.get(ch, ch) for ch in text)


def test_known_strings_decode():
    assert encoding.decode_tcvn3("X· QuyÕt Th¾ng".encode("latin-1")) == "Xã Quyết Thắng"
    assert encoding.decode_tcvn3("Ninh B×nh".encode("latin-1")) == "Ninh Bình"
    assert encoding.decode_vni("Xaõ Quyeát Thaéng".encode("latin-1")) == "Xã Quyết Thắng"
    assert encoding.decode_vni("Möôøng Khöông".encode("latin-1")) == "Mường Khương"


def test_every_vietnamese_letter_round_trips_through_each_table():
    tones = ["", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"]
    letters = {unicodedata.normalize("NFC", v + t) for v in "aăâeêioôơuưy" for t in tones}
    letters = sorted({*letters, "đ"} - set("aeiouy"))
    assert len(letters) == 67
    for ch in letters:
        assert encoding.decode_vni(as_vni(ch).encode("latin-1")) == ch
        assert encoding.decode_tcvn3(as_tcvn3(ch).encode("latin-1")) == ch
        assert encoding.encode_cp1258(ch).decode("cp1258") == unicodedata.normalize("NFD", ch) or (
            unicodedata.normalize("NFC", encoding.encode_cp1258(ch).decode("cp1258")) == ch
        )


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (as_tcvn3, "tcvn3"),
        (as_vni, "vni"),
        (lambda t: encoding.encode_cp1258(t).decode("latin-1"), "cp1258"),
        (lambda t: t.encode().decode("latin-1"), "utf-8"),
    ],
)
def test_detection_and_conversion(make, name):
    values = [make(n) for n in NAMES]
    found = encoding.detect(values)
    assert found.encoding == name
    assert found.converted == len(NAMES)
    assert encoding.convert(values, name) == NAMES


def test_real_unicode_names_are_left_alone():
    census = pd.read_csv(CITY / "census2019.csv")["ward"].tolist()
    assert encoding.detect(census).encoding == "unicode"
    for name in [*census, *NAMES, "Xã Bình", "Hòa", "Tân Lập", "Gò Đầm", "Ha Noi"]:
        assert encoding.detect([name]).encoding == "unicode", name


def test_whole_files_are_decoded():
    text = "ten,dan_so\nXóm Cây Thị,4.000\nKhuôn 1,3000\n"
    assert encoding.decode_bytes(text.encode("utf-8-sig")) == (text, "utf-8")
    assert encoding.decode_bytes(encoding.encode_cp1258(text)) == (text, "cp1258")
    assert encoding.decode_bytes(as_tcvn3(text).encode("latin-1")) == (text, "tcvn3")
    assert encoding.decode_bytes(as_vni(text).encode("latin-1")) == (text, "vni")


def test_output_is_nfc_and_matches_decomposed_input():
    decomposed = unicodedata.normalize("NFD", "Xóm Khuôn 01")
    [converted] = encoding.convert([decomposed], "unicode")
    assert converted == unicodedata.normalize("NFC", decomposed)
    assert match_key(decomposed) == match_key("xom khuon 1") != match_key("Xóm Khuôn 11")


def test_syllables():
    assert all(
        encoding.is_vietnamese_syllable(w)
        for w in ["Nguyễn", "Quỳnh", "Giếng", "Người", "Hoà", "Thuỷ", "Huế"]
    )
    assert not any(encoding.is_vietnamese_syllable(w) for w in ["Th¾ng", "Quyêìt", "TơỊ", "sơì"])
