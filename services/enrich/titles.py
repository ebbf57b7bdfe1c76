"""Forms of address and titles at the start of Spanish mentions.

CoreNLP's Spanish CRF (AnCora) takes "Sr. Simpson" and "Sra. de Palacio" for organisations,
honorific included, tags a capitalised title alone ("Presidenta", "Señoría") a person, or keeps
it in the name ("Presidente Prodi"). Three repairs, F1 +0.10 on the Spanish development set
(bench/entities_bench.py --ablate, README.md "Entities"); on the French one the same repairs
changed nothing (its CRF gives "M. Rivasseau" as "Rivasseau"), so French is left alone:
  - a leading honorific ("Sr.", "Sra.") goes, and what follows it is a person;
  - a leading title ("Presidente", "Ministra") goes when a capitalised name follows;
  - a mention that is nothing but honorifics and titles goes.
A title followed by a lower-case word ("Presidente de Sri Lanka") names a role, and stays.
"""

from __future__ import annotations

import regex

from .mention import PER, Mention

# Honorifics say that a person's name follows.
_HONORIFICS = {
    "es": {"Sr.", "Sra.", "Srta.", "Sres.", "Sras.", "Sr", "Sra", "Srta", "Sres", "Sras", "Señor", "Señora",
           "Señorita", "Don", "Doña", "D.", "Dña.", "Dr.", "Dra."},
}
# Titles and roles (compared case-insensitively): not names themselves.
_TITLES = {
    "es": {"presidente", "presidenta", "vicepresidente", "vicepresidenta", "comisario", "comisaria", "ministro",
           "ministra", "señoría", "señorías", "rey", "reina", "alcalde", "alcaldesa", "canciller", "diputado",
           "diputada", "senador", "senadora", "secretario", "secretaria", "príncipe", "princesa"},
}
_FIRST_WORD = regex.compile(r"(\S+)\s+")

LANGUAGES = frozenset(_HONORIFICS)


def strip_titles(found: list[tuple[Mention, str]], language: str) -> list[tuple[Mention, str]]:
    """The model's (mention, kind) pairs with leading honorifics and titles repaired (es)."""
    if language not in LANGUAGES:
        return found
    out = []
    for mention, kind in found:
        repaired = _repair(mention, _HONORIFICS[language], _TITLES[language])
        if repaired is not None:
            out.append((repaired, kind))
    return out


def _repair(mention: Mention, honorifics: set[str], titles: set[str]) -> Mention | None:
    text, offset, person = mention.text, 0, False
    while True:
        word = text[offset:].split(None, 1)[0] if text[offset:].strip() else ""
        if word in honorifics:
            person = True
        elif word.casefold() not in titles:
            break
        match = _FIRST_WORD.match(text, offset)
        if match is None:  # nothing but titles
            return None
        offset = match.end()
    if offset == 0:
        return mention
    rest = text[offset:]
    if not person and not rest[:1].isupper():
        return mention  # "Presidente de Sri Lanka": a role, left as the model said
    return Mention(rest, PER if person else mention.label, mention.start + offset, mention.end, mention.source)
