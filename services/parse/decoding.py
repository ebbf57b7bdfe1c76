"""Page bytes -> text: the declared charset when it fits the bytes, detection when it does not."""

from __future__ import annotations

import codecs
import gzip
import re
import zlib

from charset_normalizer import from_bytes

# A compressed page is inflated up to this size; anything beyond is cut off, never read into memory.
MAX_INFLATED_BYTES = 64 * 1024 * 1024
# Detection reads a sample: enough text to judge, bounded time on a 20 MB page.
DETECTION_SAMPLE_BYTES = 64 * 1024
# Share of control bytes (besides whitespace) above which input is data, not a page.
BINARY_CONTROL_SHARE = 0.05

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]{2,40})""", re.IGNORECASE)
# Browsers (WHATWG) decode these labels as windows-1252, a superset that maps 0x80-0x9F to letters.
_DECODED_AS_CP1252 = {"ascii", "latin_1", "iso8859_1"}
_CONTROL_BYTES = bytes(b for b in range(32) if b not in b"\t\n\r\f") + b"\x7f"
# Valid UTF-8 with a few broken bytes (mixed sources, a cut-off page) is still UTF-8:
# it must carry this many well-formed non-ASCII characters per replaced byte.
_UTF8_GOOD_PER_BAD = 20
# Detection results this close in "chaos" (mess) are treated as equally good.
_CHAOS_TIE = 0.01


class UndecodableInput(ValueError):
    """The bytes are not a text page (binary data)."""


def decode_html(data: bytes, charset_hint: str | None = None) -> str:
    """Decode page bytes, trusting the bytes over a declared charset that contradicts them."""
    data = inflate_if_gzip(data)
    if looks_binary(data):
        raise UndecodableInput("binary data, not a text page")
    bom_codec = _bom_codec(data)
    if bom_codec:
        return data.decode(bom_codec, errors="replace")
    text = _as_utf8(data)
    if text is not None:
        return text
    for label in (charset_hint, declared_charset(data)):
        codec = _codec_name(label)
        if codec and codec != "utf_8":
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                continue
    return _detected(data)


def inflate_if_gzip(data: bytes) -> bytes:
    """Pages saved or sent gzip-compressed are inflated (bounded, truncated input tolerated)."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(data, MAX_INFLATED_BYTES)
    except zlib.error:
        try:
            return gzip.decompress(data)[:MAX_INFLATED_BYTES]
        except (OSError, EOFError, zlib.error):
            return data


def looks_binary(data: bytes) -> bool:
    """Images, PDFs, archives: NUL and other control bytes that no text page has."""
    sample = data[:4096]
    if not sample or _bom_codec(sample) in ("utf-16", "utf-32"):
        return False
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / len(sample) > BINARY_CONTROL_SHARE


def declared_charset(data: bytes) -> str | None:
    """The charset named by a <meta charset> or http-equiv Content-Type near the top."""
    match = _META_CHARSET.search(data[:8192])
    return match.group(1).decode("ascii") if match else None


def _bom_codec(data: bytes) -> str | None:
    # UTF-32 LE's BOM starts with UTF-16 LE's: the longer ones are listed first.
    return next((codec for bom, codec in _BOMS if data.startswith(bom)), None)


def _codec_name(label: str | None) -> str | None:
    """Python's name for a charset label, or None when unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'").lower()).name.replace("-", "_")
    except LookupError:
        return None
    return "cp1252" if name in _DECODED_AS_CP1252 else name


def _as_utf8(data: bytes) -> str | None:
    """The text if the bytes are UTF-8 (a cut-off last character or stray bad bytes tolerated)."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    try:
        return decoder.decode(data, final=False)
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    non_ascii = len(text) - len(text.encode("ascii", errors="ignore"))
    good = non_ascii - bad
    return text if good >= _UTF8_GOOD_PER_BAD * bad else None


def _detected(data: bytes) -> str:
    """Statistical detection on a sample; windows-1252 (never fails) as the last resort."""
    for codec in (_likeliest_codec(data[:DETECTION_SAMPLE_BYTES]), "cp1252"):
        if codec:
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                continue
    return data.decode("cp1252", errors="replace")


def _likeliest_codec(sample: bytes) -> str | None:
    """charset_normalizer's best guess; windows-1252 among equally good guesses, because short
    samples leave several codecs tied and it is by far the most common legacy charset."""
    results = from_bytes(sample)
    best = results.best()
    if best is None:
        return None
    tied = {_codec_name(match.encoding) for match in results if match.chaos <= best.chaos + _CHAOS_TIE}
    return "cp1252" if "cp1252" in tied else _codec_name(best.encoding)
