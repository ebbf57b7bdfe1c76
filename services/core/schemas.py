"""The JSON Schemas of schemas/ and the topic catalogue, loaded once and used to validate
every event a stage reads or writes.

Validation is jsonschema-rs (compiled): every event is validated twice per stage (decode and
encode), and with the Python `jsonschema` this was the enrich service's largest cost after the
models, ~23 ms per article, mostly type checks of the embedding's 384 floats (README,
"Where the services' time goes")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jsonschema_rs
import yaml

from .settings import REPO_DIR

SCHEMAS_DIR = REPO_DIR / "schemas"


class SchemaError(ValueError):
    """An event does not match its schema; the message says where and why."""


@dataclass(frozen=True)
class TopicSpec:
    name: str
    schema: str
    partitions: int
    retention_ms: int
    cleanup_policy: str
    max_message_bytes: int | None = None

    def kafka_config(self) -> dict[str, str]:
        config = {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}
        if self.max_message_bytes:
            config["max.message.bytes"] = str(self.max_message_bytes)
        return config


@lru_cache(maxsize=1)
def topic_catalogue() -> dict[str, TopicSpec]:
    data = yaml.safe_load((SCHEMAS_DIR / "topics.yaml").read_text())
    specs = [
        TopicSpec(
            name=t["name"], schema=t["schema"], partitions=int(t["partitions"]),
            retention_ms=int(t["retention_ms"]), cleanup_policy=t["cleanup_policy"],
            max_message_bytes=t.get("max_message_bytes"),
        )
        for t in data["topics"]
    ]
    return {s.name: s for s in specs}


def schema_file(schema_name: str) -> Path:
    """`news.raw/1` -> schemas/news.raw-1.json"""
    name, _, major = schema_name.partition("/")
    return SCHEMAS_DIR / f"{name}-{major}.json"


def _uri(path: Path) -> str:
    # The schemas' $id and $ref are file names, resolved against the folder they live in.
    return path.resolve().as_uri()


@lru_cache(maxsize=1)
def _registry() -> jsonschema_rs.Registry:
    return jsonschema_rs.Registry([(_uri(path), json.loads(path.read_text())) for path in SCHEMAS_DIR.glob("*.json")])


@lru_cache(maxsize=None)
def validator(schema_name: str) -> jsonschema_rs.Draft202012Validator:
    path = schema_file(schema_name)
    if not path.exists():
        raise SchemaError(f"unknown schema {schema_name!r}")
    # Formats ("date-time") stay unchecked, as they were: producers outside the project send
    # timestamps like datetime.utcnow().isoformat() (no offset), which the stages read fine.
    return jsonschema_rs.Draft202012Validator(json.loads(path.read_text()), registry=_registry(), base_uri=_uri(path),
                                              validate_formats=False)


def validate(event: dict, schema_name: str) -> None:
    check = validator(schema_name)
    if check.is_valid(event):
        return
    # the error nearest the root, as the reason: where and why
    first = min(check.iter_errors(event), key=lambda e: [str(p) for p in e.instance_path])
    where = "/".join(str(p) for p in first.instance_path) or "(root)"
    raise SchemaError(f"{schema_name}: {where}: {first.message[:300]}")
