"""How a page body travels in news.raw: base64 text, zstd-compressed above a size threshold
so that messages stay well under Kafka's message size limit."""

from __future__ import annotations

import base64

import zstandard

# A decompression-bomb guard: no page we accept is larger than this once decompressed.
MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024


def encode_body(body: bytes, compress_over: int) -> tuple[str, str]:
    """-> (base64 text, compression name)"""
    if len(body) > compress_over:
        return base64.b64encode(zstandard.ZstdCompressor(level=3).compress(body)).decode("ascii"), "zstd"
    return base64.b64encode(body).decode("ascii"), "none"


def decode_body(text: str, compression: str) -> bytes:
    data = base64.b64decode(text, validate=True)
    if compression == "zstd":
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_DECOMPRESSED_BYTES)
    return data
