"""One named-entity mention as the recognisers hand it on: a span of the article text."""

from __future__ import annotations

from typing import NamedTuple

# Coarse CoNLL labels; every recogniser maps its own tag set onto these.
PER, ORG, LOC, MISC = "PER", "ORG", "LOC", "MISC"


class Mention(NamedTuple):
    text: str
    label: str
    start: int  # character offsets into the text given to extract_entities
    end: int
    source: str  # "model", "rule" or "gazetteer": later sources override earlier ones
