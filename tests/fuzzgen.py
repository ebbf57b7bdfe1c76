"""Seeded generator of malformed events for the fuzz and chaos tests.

Every event it yields is checked against the project's own `decode`, so each one is known to be
rejected by the stage that reads it: the test can then demand a dead letter for every single one.
Each event carries a unique nonce, so its dead letter is found by its original bytes.
"""

from __future__ import annotations

import base64
import copy
import random
from typing import Iterator

import orjson

from newsflow.core.envelope import InvalidEvent, decode

KINDS = ("invalid_json", "not_object", "wrong_schema_version", "wrong_type", "huge_field", "missing_envelope")
WRONG_VALUES = (0, -1, 3.5, True, None, [], [1, "x"], {}, {"nested": {"deep": [None]}}, "", "\x00\ud7ff", "not-a-date")
ENVELOPE_KEYS = ("schema", "id", "trace_id", "produced_at", "producer", "payload")


def _hex(rng: random.Random) -> str:
    return "%032x" % rng.getrandbits(128)


def _paths(value, prefix=()) -> list[tuple]:
    """Every key path into a JSON object (dicts only: lists are left whole)."""
    out = []
    if isinstance(value, dict):
        for key, child in value.items():
            out.append((*prefix, key))
            out.extend(_paths(child, (*prefix, key)))
    return out


def _set(event: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        event = event[key]
    event[path[-1]] = value


def _huge(rng: random.Random, max_bytes: int) -> str:
    size = rng.randint(max_bytes // 4, max_bytes)
    return rng.choice("xyz\u00e9\u4e2d") * (size // 3)  # multibyte chars: byte size up to ~size


def _candidate(kind: str, good: dict, schema: str, nonce: str, rng: random.Random, huge_bytes: int) -> bytes:
    event = copy.deepcopy(good)
    event["id"], event["trace_id"] = _hex(rng), _hex(rng)
    if kind == "invalid_json":
        text = orjson.dumps({**event, "nonce": nonce})
        choice = rng.randrange(4)
        if choice == 0:  # truncated mid-document
            return text[: rng.randint(1, max(1, len(text) - 2))] + nonce.encode()
        if choice == 1:  # binary garbage, not even UTF-8
            return b"\xff\xfe" + nonce.encode() + bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 64)))
        if choice == 2:
            return b"{'single': 'quotes', 'nonce': '" + nonce.encode() + b"'}"
        return b'{"nonce": "' + nonce.encode() + b'", "trailing": [1, 2,]}'
    if kind == "not_object":
        return orjson.dumps(rng.choice([[nonce], nonce, [event, nonce], [0, nonce]]))
    if kind == "wrong_schema_version":
        name, _, major = schema.partition("/")
        event["schema"] = rng.choice([f"{name}/{int(major) + 1}", f"{name}/0", f"{name}/{major}.1", name,
                                      "news.other/1", None, 1])
        event["nonce"] = nonce
        return orjson.dumps(event)
    if kind == "wrong_type":
        path = rng.choice(_paths(event))
        _set(event, path, copy.deepcopy(rng.choice(WRONG_VALUES)))
        event.setdefault("payload", {})
        if isinstance(event["payload"], dict):
            event["payload"]["_fuzz_nonce"] = nonce  # extra key: also invalid on its own
        else:
            event["nonce"] = nonce
        return orjson.dumps(event)
    if kind == "huge_field":
        target = rng.choice(["id", "trace_id", "schema", "extra", "payload_extra"])
        if target == "extra":
            event["huge"] = _huge(rng, huge_bytes)
        elif target == "payload_extra":
            event["payload"]["huge"] = _huge(rng, huge_bytes)
        else:
            event[target] = _huge(rng, huge_bytes)
        event["nonce"] = nonce
        return orjson.dumps(event)
    if kind == "missing_envelope":
        if rng.random() < 0.5:  # the bare payload, as a careless producer would send it
            return orjson.dumps({**event["payload"], "_fuzz_nonce": nonce})
        for key in rng.sample(ENVELOPE_KEYS, rng.randint(1, 3)):
            event.pop(key)
        event["nonce"] = nonce
        return orjson.dumps(event)
    raise ValueError(kind)


def malformed(good: dict, schema: str, count: int, seed: int, huge_bytes: int = 256 * 1024,
              huge_share: float = 0.05) -> Iterator[tuple[str, bytes]]:
    """`count` (kind, bytes) pairs, every one rejected by decode(bytes, schema). Huge fields
    are a small share so a 10,000-event run does not mean gigabytes on the DLQ."""
    rng = random.Random(seed)
    weights = [1 if k != "huge_field" else 0 for k in KINDS]
    emitted = 0
    while emitted < count:
        kind = "huge_field" if rng.random() < huge_share else rng.choices(KINDS, weights)[0]
        value = _candidate(kind, good, schema, f"fz{seed}-{emitted}-{rng.getrandbits(32):08x}", rng, huge_bytes)
        try:
            decode(value, schema)
        except InvalidEvent:
            emitted += 1
            yield kind, value
        # a mutation that happens to be valid (rare: e.g. an optional field set to null) is skipped


def dlq_original(value: bytes) -> str:
    """The `original` text a dead letter carries for these bytes (see newsflow.core.dlq)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(value).decode("ascii")
