"""Named entities of an article: people, organisations and places, merged per entity.

    extract_entities(text, "de") -> {"persons": [...], "organizations": [...], "locations": [...]}

each item {"name", "count", "first_offset"}, most mentioned first. Mentions come from the
CoreNLP CRF model (newsflow.enrich.corenlp), context rules (entity_rules) and a gazetteer of
well-known organisations; entity_merge makes one entity of their mentions.
"""

from __future__ import annotations

from . import corenlp
from .entity_merge import build_entities, select_spans
from .entity_rules import rule_mentions
from .gazetteer import gazetteer_mentions
from .mention import LOC, ORG, PER
from .titles import strip_titles

SUPPORTED_LANGUAGES = corenlp.SUPPORTED_LANGUAGES
_FIELDS = {PER: "persons", ORG: "organizations", LOC: "locations"}


class UnsupportedLanguage(ValueError):
    """No NER model for the language: the caller leaves the field empty with this reason."""


def extract_entities(text: str, language: str, *, use_gazetteer: bool = True,
                     ablate: frozenset[str] = frozenset()) -> dict:
    """Raises UnsupportedLanguage, corenlp.CoreNLPError when the server refuses the text, or
    DependencyUnavailable when the server is down.

    `ablate` names rules (entity_rules.rule_names) or steps to leave out, for the benchmark's
    measure of what each one buys (bench/entities_bench.py --ablate)."""
    if language not in SUPPORTED_LANGUAGES:
        raise UnsupportedLanguage(f"no named-entity model for language {language!r}")
    found = [(m, "model") for m in corenlp.recognise(text, language)]
    found += rule_mentions(text, language, ablate)
    if "titles" not in ablate:  # es: "Sr. Simpson" is a person, "Presidenta" alone no name
        found = strip_titles(found, language)
    if use_gazetteer and "gazetteer" not in ablate:
        found += [(m, "gazetteer") for m in gazetteer_mentions(text, ablate)]
    # A name never runs across a line break: title, lead and paragraphs are separate blocks,
    # and a span joining two of them ("Bericht 1727\nSundar Pichai") names nothing.
    found = [(m, kind) for m, kind in found if "\n" not in m.text]
    entities = build_entities(select_spans(found), text, language, ablate)

    result: dict[str, list[dict]] = {field: [] for field in _FIELDS.values()}
    for entity in sorted(entities, key=lambda e: (-e.count, e.first_offset, e.name)):
        if entity.label in _FIELDS:
            result[_FIELDS[entity.label]].append(
                {"name": entity.name, "count": entity.count, "first_offset": entity.first_offset}
            )
    return result
