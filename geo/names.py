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
    "khu pho",
    "khu dan cu",
    "phuong",
    "xom",
    "thon",
    "ban",
    "lang",
    "khu",
    "ap",
    "to",
    "xa",
)
_PREFIX_RE = re.compile(r"^(?:" + "|".join(re.escape(p) for p in _PREFIXES) + r")[\s.]+(?=\S)")
_NON_ALNUM_RE = re.compile(r"[^0-9a-z]+")


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
    are ignored. Numbers are kept, so "Xóm 1" and "Xóm 11" stay distinct.

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
    >>> match_key("Xóm Khuôn 1"), match_key("xom khuon 11")
    ('khuon1', 'khuon11')
    """
    folded = _PREFIX_RE.sub("", fold(name))
    return _NON_ALNUM_RE.sub("", folded)


def slug(name: str) -> str:
    """Return a file-system friendly ASCII slug of ``name``.

    Examples
    --------
    >>> slug("Quyết Thắng")
    'quyet-thang'
    """
    return _NON_ALNUM_RE.sub("-", fold(name)).strip("-") or "project"
