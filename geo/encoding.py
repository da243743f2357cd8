"""Legacy Vietnamese text encodings: TCVN3 (ABC), VNI and Windows-1258.

Before Unicode, Vietnamese text was typed with byte encodings and matching
fonts: TCVN3 (also called ABC, fonts ``.VnTime``), VNI-Windows (fonts
``VNI-Times``) and Windows code page 1258. Attribute tables from old desktop
GIS (shapefiles without a ``.cpg``), Excel sheets typed in those fonts and CSV
files saved by old tools still carry them. Python has a codec for cp1258 only,
so this module holds the TCVN3 and VNI tables as data, detects which encoding
a column is in by scoring the decoded text (how much of it reads as
Vietnamese syllables), and converts it to Unicode NFC.

Text reaches this module in one of two ways:

* as ``str`` whose characters stand for bytes (a DBF decoded as Latin-1 or
  cp1252 by GDAL, a cell typed in ``.VnTime`` in Excel): :func:`as_bytes`
  recovers the bytes;
* as raw ``bytes`` (a CSV that is not valid UTF-8): :func:`decode_bytes`.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# --- TCVN3 --------------------------------------------------------------------------------------
# Bytes 0x80-0xFF of TCVN 5712:1993 (VN1) as in glibc's charmap TCVN5712-1 (iconv -f TCVN5712-1).
# TCVN3 ("ABC", fonts .VnTime/.VnTimeH) uses the lower-case subset at 0xA1-0xFE; the capitals at
# 0x80-0x9F and the few at 0xAF-0xFF are VN1's and harmless for VN3 text. 0xB0-0xB4 are combining
# tone marks (composed by NFC). Cross-checked against the TCVN3 column of the npm package
# vietnamese-conversion 2.0.0 (MIT): all 134 letters agree.
_TCVN3_HIGH = (
    "ÀẢÃÁẠẶẬÈẺẼÉẸỆÌỈĨÍỊÒỎÕÓỌỘỜỞỠỚỢÙỦŨ"  # 0x80-0x9F
    "\u00a0ĂÂÊÔƠƯĐăâêôơưđẰ\u0300\u0309\u0303\u0301\u0323àảãáạẲằẳẵắẴ"  # 0xA0-0xBF
    "ẮẦẨẪẤỀặầẩẫấậèỂẻẽéẹềểễếệìỉỄẾỒĩíịò"  # 0xC0-0xDF
    "ỔỏõóọồổỗốộờởỡớợùỖủũúụừửữứựỳỷỹýỵỐ"  # 0xE0-0xFF
)
TCVN3_TABLE: dict[int, str] = dict(enumerate(_TCVN3_HIGH, start=0x80))
"""TCVN3 byte → Unicode character, for bytes 0x80-0xFF (below 0x80 it is ASCII)."""

# --- VNI-Windows --------------------------------------------------------------------------------
# VNI writes a letter as its base (ASCII, or one byte for đ ơ ư ì í ỉ ĩ ị ỵ) followed by one byte
# for the diacritics. Table from the VNI-Windows font layout, cross-checked against the VNI column
# of the npm package vietnamese-conversion 2.0.0 (MIT): 130 of 134 letters agree; it gives ỷ ỹ
# as "ë" "ì", which it also uses for ặ's mark and for ì, so we keep y + "û"/"õ" like every other
# vowel. Bytes are shown as their Latin-1 characters; capitals use the capital mark bytes.
_TONES = {"ø": "\u0300", "ù": "\u0301", "û": "\u0309", "õ": "\u0303", "ï": "\u0323"}
_CIRCUMFLEX_TONES = {"â": "", "à": "\u0300", "á": "\u0301", "å": "\u0309", "ã": "\u0303"}
_CIRCUMFLEX_TONES["ä"] = "\u0323"
_BREVE_TONES = {"ê": "", "è": "\u0300", "é": "\u0301", "ú": "\u0309", "ü": "\u0303"}
_BREVE_TONES["ë"] = "\u0323"
_VNI_SINGLE = {
    "ñ": "đ",
    "ô": "ơ",
    "ö": "ư",
    "ì": "ì",
    "í": "í",
    "æ": "ỉ",
    "ó": "ĩ",
    "ò": "ị",
    "î": "ỵ",
}


def _vni_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for upper in (False, True):

        def case(text: str, *, upper: bool = upper) -> str:
            return text.upper() if upper else text

        for mark, tone in _TONES.items():
            for base in "aeiouy":
                table[case(base) + case(mark)] = case(base) + tone
            for base in ("ô", "ö"):  # ơ, ư + tone
                table[case(base) + case(mark)] = case(_VNI_SINGLE[base]) + tone
        for mark, tone in _CIRCUMFLEX_TONES.items():
            for base in "aeo":
                table[case(base) + case(mark)] = case(base) + "\u0302" + tone
        for mark, tone in _BREVE_TONES.items():
            table[case("a") + case(mark)] = case("a") + "\u0306" + tone
        for byte, letter in _VNI_SINGLE.items():
            table[case(byte)] = case(letter)
    return {key: unicodedata.normalize("NFC", value) for key, value in table.items()}


VNI_TABLE: dict[str, str] = _vni_table()
"""VNI sequence (one or two characters standing for bytes) → Unicode letter."""
_VNI_RE = re.compile("|".join(sorted(map(re.escape, VNI_TABLE), key=len, reverse=True)))

# --- detection ----------------------------------------------------------------------------------
ENCODINGS = ("utf-8", "cp1258", "tcvn3", "vni")
"""Legacy encodings tried, besides the text as it is."""

_VOWELS = "aăâeêioôơuưy"
_LETTERS = "abcdđeghiklmnopqrstuvxyăâêôơư"
_ONSET = r"(?:ngh|ng|gh|gi|kh|nh|ph|qu|th|tr|ch|[bcdđghklmnprstvx])?"
_NUCLEUS = (
    r"(?:uyê|uya|uyu|ươi|ươu|uôi|oai|oay|oao|oeo|iêu|yêu|uây|"
    r"ai|ao|au|ay|âu|ây|eo|êu|ia|iê|iu|oa|oă|oe|oi|ôi|ơi|oo|ua|uâ|uê|ui|uô|uơ|ưa|ưi|ươ|ưu|uy|yê|"
    r"[aăâeêioôơuưy])"
)
_CODA = r"(?:ch|ng|nh|[cmnpt])?"
_SYLLABLE_RE = re.compile(f"^(?P<onset>{_ONSET})(?P<nucleus>{_NUCLEUS})(?P<coda>{_CODA})$")
_QUALITY = set("ăâêôơư")
_TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)
# Characters of the Vietnamese alphabet in Unicode (NFC), both cases, plus f j w z.
_VIETNAMESE = {
    unicodedata.normalize("NFC", base + tone) for base in _LETTERS for tone in ("", *_TONE_MARKS)
}
_VIETNAMESE = {ch for ch in _VIETNAMESE if len(ch) == 1}
_VIETNAMESE |= {ch.upper() for ch in _VIETNAMESE} | set("fjwzFJWZ")


SYLLABLE_CACHE = 65_536
"""Words whose verdict :func:`is_vietnamese_syllable` remembers (a few MB at most)."""


@functools.lru_cache(maxsize=SYLLABLE_CACHE)
def is_vietnamese_syllable(word: str) -> bool:
    """Return whether ``word`` is a well-formed Vietnamese syllable (with at most one tone).

    Cached: names repeat their words (*Xóm*, *Thôn*, *Nhà văn hóa*), so a column of
    thousands of names holds a few hundred distinct ones.

    Examples
    --------
    >>> is_vietnamese_syllable("Thắng"), is_vietnamese_syllable("Quyết")
    (True, True)
    >>> is_vietnamese_syllable("Th¾ng"), is_vietnamese_syllable("Quyêìt")
    (False, False)
    """
    if any(a.islower() and b.isupper() for a, b in itertools.pairwise(word)):
        return False
    bases, tone_at = [], []
    for position, ch in enumerate(unicodedata.normalize("NFC", word.casefold())):
        parts = unicodedata.normalize("NFD", ch)
        if any(mark in _TONE_MARKS for mark in parts):
            tone_at.append(position)
        bases.append(
            unicodedata.normalize("NFC", "".join(m for m in parts if m not in _TONE_MARKS))
        )
    bare = "".join(bases)
    match = _SYLLABLE_RE.match(bare) if len(bare) == len(bases) else None
    if match is None or len(tone_at) > 1:
        return False
    if not tone_at:
        return True
    start, end = match.span("nucleus")
    tone = tone_at[0]
    if not start <= tone < end:
        return False
    nucleus = match.group("nucleus")
    ends_open = not match.group("coda") and len(nucleus) > 1
    if ends_open and tone == end - 1:
        return bare[tone] in _QUALITY or nucleus in {"oa", "oe", "uy"}
    return True


def plausibility(texts: Iterable[str]) -> float:
    """Score how much ``texts`` read as Vietnamese: +1 per syllable, -2 per foreign character.

    ASCII words that are not syllables (codes, English) score 0; a character
    outside the Vietnamese alphabet (``¸``, ``µ``, ``¾`` left by a wrong
    decoding, stray combining marks) costs 2.
    """
    score = 0.0
    for text in texts:
        for word in _WORD_RE.findall(text):
            if is_vietnamese_syllable(word):
                score += 1.0 if not word.isascii() else 0.25
            elif not word.isascii():
                score -= 0.5
        score -= 2.0 * sum(
            1
            for ch in text
            if not ch.isascii() and ch not in _VIETNAMESE and unicodedata.category(ch)[0] != "Z"
        )
    return score


def as_bytes(text: str) -> bytes | None:
    """Return the bytes a legacy-decoded string stands for, or None if it is real Unicode.

    Each character must be Latin-1 (U+0000-U+00FF) or one of cp1252's
    characters at 0x80-0x9F; anything else (``ế``, ``ờ``…) means the text is
    already Unicode.
    """
    out = bytearray()
    for ch in text:
        code = ord(ch)
        if code < 0x100:
            out.append(code)
            continue
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            return None
    return bytes(out)


def decode_tcvn3(data: bytes) -> str:
    """Decode TCVN3 (ABC) bytes to Unicode NFC.

    Examples
    --------
    >>> decode_tcvn3("X· QuyÕt Th¾ng".encode("latin-1"))
    'Xã Quyết Thắng'
    """
    text = "".join(TCVN3_TABLE.get(byte, chr(byte)) for byte in data)
    return unicodedata.normalize("NFC", text)


def decode_vni(data: bytes) -> str:
    """Decode VNI-Windows bytes to Unicode NFC.

    Examples
    --------
    >>> decode_vni("Xaõ Quyeát Thaéng".encode("latin-1"))
    'Xã Quyết Thắng'
    """
    text = data.decode("latin-1")
    return unicodedata.normalize("NFC", _VNI_RE.sub(lambda m: VNI_TABLE[m.group(0)], text))


def _decode_codec(codec: str) -> Callable[[bytes], str]:
    def decode(data: bytes) -> str:
        return unicodedata.normalize("NFC", data.decode(codec))

    return decode


DECODERS: dict[str, Callable[[bytes], str]] = {
    "tcvn3": decode_tcvn3,
    "vni": decode_vni,
    "cp1258": _decode_codec("cp1258"),
    "utf-8": _decode_codec("utf-8"),
}
"""Decoder of each legacy encoding: bytes → Unicode NFC (may raise UnicodeDecodeError)."""


@dataclass(frozen=True)
class Detection:
    """The encoding found for a set of values, and what converting them changes.

    Attributes
    ----------
    encoding : str
        ``unicode`` (left as is) or one of :data:`ENCODINGS`.
    converted : int
        How many values the conversion changes.
    score, score_as_is : float
        :func:`plausibility` after conversion and as is; NaN when no value
        could be in a legacy encoding (nothing was scored).
    """

    encoding: str
    converted: int
    score: float
    score_as_is: float


def detect(values: Sequence[str], counts: Sequence[int] | None = None) -> Detection:
    """Find which legacy encoding, if any, a column of text is in.

    Every candidate decoding is scored with :func:`plausibility`; one is
    chosen only if every value decodes and it reads clearly better than
    the text as it is.

    Parameters
    ----------
    values : sequence of str
        The column's non-empty values, as read.
    counts : sequence of int, optional
        How many times each value occurs in the column, when ``values`` are
        its distinct values: the scores and ``converted`` are then those of
        the whole column (scores are sums of multiples of 0.25, so exact).

    Returns
    -------
    Detection

    Examples
    --------
    >>> detect(["X· QuyÕt Th¾ng", "Th«n §ång KiÖm"]).encoding
    'tcvn3'
    >>> detect(["Xã Quyết Thắng", "Xã Bình"]).encoding
    'unicode'
    """
    texts = [unicodedata.normalize("NFC", v) for v in values]
    weights = [1] * len(texts) if counts is None else list(counts)

    def score_of(decoded: list[str]) -> float:
        if counts is None:
            return plausibility(decoded)
        return sum(w * plausibility((text,)) for text, w in zip(decoded, weights, strict=True))

    raw = [as_bytes(v) for v in values]
    if not any(data is not None and not data.isascii() for data in raw):
        # no value could be legacy-encoded text (ASCII, or beyond one byte a character)
        return Detection("unicode", 0, math.nan, math.nan)
    as_is = score_of(texts)
    best = Detection("unicode", 0, as_is, as_is)
    for name in ENCODINGS:
        decoded = _decode_all(values, raw, DECODERS[name])
        if decoded is None:
            continue
        score = score_of(decoded)
        margin = max(1.0, 0.1 * abs(as_is))
        if score > best.score and score >= as_is + margin:
            changed = sum(
                w for old, new, w in zip(texts, decoded, weights, strict=True) if old != new
            )
            best = Detection(name, changed, score, as_is)
    return best


def _decode_all(
    values: Sequence[str], raw: Sequence[bytes | None], decode: Callable[[bytes], str]
) -> list[str] | None:
    out = []
    for value, data in zip(values, raw, strict=True):
        if data is None or data.isascii():
            out.append(unicodedata.normalize("NFC", value))
            continue
        try:
            out.append(decode(data))
        except UnicodeDecodeError:
            return None
    return out


def convert(values: Sequence[str], encoding: str) -> list[str]:
    """Convert values (characters standing for bytes) from ``encoding`` to Unicode NFC.

    Values that are already Unicode (see :func:`as_bytes`) are only normalised.
    """
    if encoding == "unicode":
        return [unicodedata.normalize("NFC", v) for v in values]
    decode = DECODERS[encoding]
    out = []
    for value in values:
        data = as_bytes(value)
        try:
            out.append(
                unicodedata.normalize("NFC", value)
                if data is None or data.isascii()
                else decode(data)
            )
        except UnicodeDecodeError:
            out.append(unicodedata.normalize("NFC", value))
    return out


def encode_cp1258(text: str) -> bytes:
    """Encode Unicode text as Windows-1258 (tone marks as combining characters).

    cp1258 has the letters ă â ê ô ơ ư đ precomposed and the five tone marks
    as combining bytes; Python's codec needs the text in that form.

    Examples
    --------
    >>> encode_cp1258("Thắng").decode("cp1258") == unicodedata.normalize("NFD", "Thắng").replace(
    ...     "a\u0306", "ă")
    True
    """
    out: list[str] = []
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch) and out:
            letter, tones = out[-1][0], out[-1][1:]
            if ch in _TONE_MARKS:
                out[-1] = letter + tones + ch
            else:
                out[-1] = unicodedata.normalize("NFC", letter + ch) + tones
        else:
            out.append(ch)
    return "".join(out).encode("cp1258")


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode a whole file's bytes: UTF-8 if valid, else the most plausible legacy encoding.

    Parameters
    ----------
    data : bytes
        The file's content.

    Returns
    -------
    text : str
        Unicode NFC.
    encoding : str
        ``utf-8``, ``cp1258``, ``tcvn3`` or ``vni``.

    Examples
    --------
    cp1258 writes some tones as combining marks (the dot below of *ị*):

    >>> decode_bytes("Xóm Cây Thi\u0323".encode("cp1258"))
    ('Xóm Cây Thị', 'cp1258')
    """
    try:
        return unicodedata.normalize("NFC", data.removeprefix(b"\xef\xbb\xbf").decode()), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = []
    for name in ("cp1258", "tcvn3", "vni"):
        try:
            text = DECODERS[name](data)
        except UnicodeDecodeError:
            continue
        candidates.append((plausibility(text.splitlines()), name, text))
    if not candidates:  # pragma: no cover - Latin-1 decodes any bytes
        text = data.decode("latin-1")
        return text, "latin-1"
    _, name, text = max(candidates, key=lambda item: item[0])
    return text, name
