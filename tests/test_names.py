"""Vietnamese name folding and matching keys."""

from __future__ import annotations

import pytest

from geo.names import fold, match_key, nfc, slug


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Xã Quyết Thắng", "QuyếtThắng"),
        ("Xã Quyết Thắng", "quyet thang"),
        ("Phường Đồng Bẩm", "DONG BAM"),
        ("Xóm Khuôn 1", "khuon  1"),
        ("Tổ dân phố số 5", "So 5"),
        ("Thôn Đồng Kiệm", "Xóm Đồng Kiệm"),
    ],
)
def test_same_place_same_key(a, b):
    assert match_key(a) == match_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Xóm 1", "Xóm 11"),
        ("Khuôn 1", "Khuôn 2"),
        ("Tân Lập", "Tân Lợi"),
        ("Xuân Phương", "Phương"),
    ],
)
def test_different_places_different_keys(a, b):
    assert match_key(a) != match_key(b)


def test_prefix_only_stripped_before_a_name():
    assert match_key("Khuôn") == "khuon"  # 'khu' is a prefix, 'khuôn' is a name
    assert match_key("Xã") == "xa"


def test_decomposed_input_is_normalised():
    decomposed = "Quye\u0302\u0301t Tha\u0306\u0301ng"
    assert nfc(decomposed) == "Quyết Thắng"
    assert match_key(decomposed) == "quyetthang"


def test_fold_and_slug():
    assert fold("  Đức   Xuân ") == "duc xuan"
    assert slug("Thái Nguyên (2025)") == "thai-nguyen-2025"
