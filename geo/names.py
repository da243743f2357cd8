"""Vietnamese names: Unicode normalisation and tolerant matching keys."""

from __future__ import annotations

import re
import unicodedata

# Administrative and settlement prefixes, in ASCII after folding, longest first.
_PREFIXES = (
    "thanh pho",
    "thi tran",
    "thi xa",
    "to dan pho",
    "tieu khu",
    "tdp",
    "khu pho",
    "khu dan cu",
    "phuong",
    "xom",
    "thon",
    "ban",
    "lang",
    "khu",
    "kp",
    "ap",
    "to",
    "xa",
)
_PREFIX_RE = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")[\s.]+(?=\S)")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")
_LEADING_ZEROS_RE = re.compile(r"(?<![0-9])0+(?=[0-9])")


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC with surrounding white space removed.

    Examples
    --------
    >>> nfc(" Quye\u0302\u0301t Tha\u0306\u0301ng ") == "Quy\u1ebft Th\u1eafng"
    True
    """
    return unicodedata.normalize("NFC", text).strip()


def fold(text: str) -> str:
    """Return ``text`` lower-cased with Vietnamese diacritics removed.

    ``đ`` becomes ``d``; runs of white space become one space.

    Examples
    --------
    >>> fold("Xã  Quyết Thắng")
    'xa quyet thang'
    >>> fold("Đồng Bẩm")
    'dong bam'
    """
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def match_key(name: str) -> str:
    """Return the key two spellings of one place name share.

    Diacritics, case, spacing, punctuation and one leading administrative
    or settlement prefix (Xã, Phường, Thị trấn, Xóm, Thôn, Tổ dân phố, …)
    are ignored. Numbers are kept, so "Xóm 1" and "Xóm 11" stay distinct;
    leading zeros are not ("Xóm 01" is "Xóm 1").

    Parameters
    ----------
    name : str
        A commune, ward or hamlet name as written in any source.

    Returns
    -------
    str
        ASCII lower-case letters and digits only.

    Examples
    --------
    >>> match_key("Xã Quyết Thắng") == match_key("QuyếtThắng") == "quyetthang"
    True
    >>> match_key("Xóm Khuôn 1"), match_key("xom khuon 11"), match_key("TDP 05")
    ('khuon1', 'khuon11', '5')
    """
    folded = _PREFIX_RE.sub("", fold(name))
    return _LEADING_ZEROS_RE.sub("", _NON_ALNUM_RE.sub(" ", folded)).replace(" ", "")


def closest_names(name: str, candidates: list[str], n: int = 2) -> list[str]:
    """Return up to ``n`` candidates whose spelling is closest to ``name``.

    Compared on :func:`fold` without the leading prefix, so "Khuon Mot" finds
    "Xóm Khuôn 1" and a missing diacritic costs nothing.

    Examples
    --------
    >>> closest_names("Khuon Mot", ["Xóm Cây Thị", "Xóm Khuôn 1", "Thôn Đồng Kiệm"])
    ['Xóm Khuôn 1']
    """
    import difflib

    def plain(text: str) -> str:
        return _PREFIX_RE.sub("", fold(text))

    by_plain: dict[str, str] = {}
    for candidate in candidates:
        by_plain.setdefault(plain(candidate), candidate)
    close = difflib.get_close_matches(plain(name), list(by_plain), n=n, cutoff=0.6)
    return [by_plain[match] for match in close]


def slug(name: str) -> str:
    """Return a file-system friendly ASCII slug of ``name``.

    Examples
    --------
    >>> slug("Quyết Thắng")
    'quyet-thang'
    """
    return _NON_ALNUM_RE.sub("-", fold(name)).strip("-") or "project"
