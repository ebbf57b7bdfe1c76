"""entity_merge._standalone finds exactly what the regex it replaces found, without compiling
a pattern per name."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from newsflow.enrich.entity_merge import _standalone

ALPHABET = "ab AB's’.-é1\n"


def by_regex(name: str, text: str, suffix: bool = True) -> list[tuple[int, int]]:
    tail = "(?:s|'s|’s|')?" if suffix else ""
    pattern = rf"(?<![\p{{L}}\p{{N}}]){regex.escape(name)}{tail}(?![\p{{L}}\p{{N}}])"
    return [m.span() for m in regex.finditer(pattern, text)]


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=2, max_size=4), st.text(alphabet=ALPHABET, max_size=40))
def test_same_spans_as_the_regex(name, text):
    assert list(_standalone(name, text)) == by_regex(name, text)
    assert list(_standalone(name, text, ("",))) == by_regex(name, text, suffix=False)


def test_examples():
    text = "Meta, Metas Pläne und Meta's KI; Metaverse nicht, aber Meta’ und Metas' (Meta)"
    assert [text[a:b] for a, b in _standalone("Meta", text)] == ["Meta", "Metas", "Meta's", "Meta", "Metas", "Meta"]
    assert [text[a:b] for a, b in _standalone("Meta", text, ("",))] == ["Meta", "Meta", "Meta", "Meta"]
