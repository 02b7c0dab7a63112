"""Bytes to text: byte-order marks, binary detection, encoding detection (UTF-8, cp1252, charset-normalizer).

Example: `decode_bytes(b"caf\\xe9\\r\\n", "in.txt")` returns `("café\\n", "cp1252")`.
"""

from __future__ import annotations

import codecs
import re

import numpy as np

from lstmgen.errors import DataError

BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Bytes that never appear in text: C0 controls other than \t \n \v \f \r and ESC, plus DEL.
_CONTROL = np.zeros(256, dtype=bool)
_CONTROL[[*range(9), *range(14, 27), *range(28, 32), 127]] = True

# Non-ASCII symbols that legitimately touch letters in Western text (quotes, apostrophes, dashes, openers).
_WESTERN_OK = set(
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u00ab\u00bb\u2039\u203a\u2013\u2014\u2010\u2011"
    "\u00b7\u2022\u00a1\u00bf\u00a0\u00b0\u2026\u2020\u2021\u00a7\u00b6\u00a3\u20ac\u00a9\u00ae\u2122"
)
_ACCENTED_WORD = re.compile(r"[^\W\d_]*[^\x00-\x7f\W\d_][^\W\d_]*")
_SYMBOL_BEFORE_LETTER = re.compile(r"(?<=(.))([^\w\s\x00-\x7f])(?=[^\W\d_])", re.S)


def looks_binary(data: bytes) -> bool:
    """NUL bytes anywhere, or more than 5% control bytes in the first 64 KiB."""
    if b"\0" in data:
        return True
    head = np.frombuffer(data[:65536], dtype=np.uint8)
    return head.size > 0 and _CONTROL[head].mean() > 0.05


def _western_plausible(text: str) -> bool:
    """Does a cp1252 decoding read like Western European text rather than mojibake of another codepage?

    Cyrillic/Greek codepages decoded as cp1252 give words made almost entirely of accented letters; Central
    European ones give symbols glued to letters ('³atwe' for 'łatwe').
    """
    sample = text[:1_000_000]
    accented = long_words = 0
    for m in _ACCENTED_WORD.finditer(sample):
        w = m.group()
        if len(w) >= 3:
            long_words += len(w)
            accented += sum(ord(c) > 127 for c in w)
    if long_words and accented / long_words > 0.5:
        return False
    suspicious = sum(
        1
        for m in _SYMBOL_BEFORE_LETTER.finditer(sample)
        if m.group(2) not in _WESTERN_OK or (m.group(1).isalpha() and m.group(2) in "\u00a1\u00bf\u00ab\u201e")
    )
    n_high = len(sample) - len(sample.encode("ascii", "ignore"))
    return suspicious <= max(2, 0.02 * n_high)


def _guess_with_charset_normalizer(data: bytes, label: str) -> tuple[str, str]:
    from charset_normalizer import from_bytes

    sample = data[:262144]
    if len(data) > len(sample) and b"\n" in sample:
        sample = sample[: sample.rindex(b"\n") + 1]  # do not cut a multibyte character in half
    for match in from_bytes(sample):
        try:
            return data.decode(match.encoding), codecs.lookup(match.encoding).name
        except (UnicodeDecodeError, LookupError):
            continue
    raise DataError(f"{label}: could not detect the text encoding; pass --encoding (e.g. --encoding cp1252)")


def _binary_error(label: str) -> DataError:
    return DataError(
        f"{label} looks binary (NUL or control bytes), not text; pass a plain-text file "
        "(UTF-16 without a byte-order mark needs --encoding utf-16-le or utf-16-be)"
    )


def check_encoding(encoding: str | None) -> str | None:
    """The codec's canonical name; an unknown one is a DataError."""
    try:
        return codecs.lookup(encoding).name if encoding else None
    except LookupError:
        raise DataError(
            f"unknown encoding {encoding!r}; use a Python codec name such as utf-8, cp1252, latin-1"
        ) from None


def decode_bytes(data: bytes, label: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode `data` to text with newlines normalised to \\n; returns (text, encoding used)."""
    if encoding:
        enc = check_encoding(encoding) or encoding
        if not enc.startswith(("utf-16", "utf-32")) and looks_binary(data):
            raise _binary_error(label)
        try:
            text = data.decode(enc)
        except UnicodeDecodeError as e:
            raise DataError(
                f"{label}: byte 0x{data[e.start]:02x} at byte offset {e.start} cannot be decoded as {enc} "
                f"({e.reason}); pass the right --encoding or omit it to auto-detect"
            ) from None
    else:
        text, enc = _detect_and_decode(data, label)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n"), enc


def _detect_and_decode(data: bytes, label: str) -> tuple[str, str]:
    for bom, enc in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{label} starts with a {enc} byte-order mark but is not valid {enc} at byte offset {e.start}; "
                    "pass the right --encoding"
                ) from None
    if looks_binary(data):
        raise _binary_error(label)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        if _western_plausible(text):
            return text, "cp1252"
    except UnicodeDecodeError:
        pass
    return _guess_with_charset_normalizer(data, label)
