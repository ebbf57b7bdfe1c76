"""Turns overlapping mentions from several sources into article-level entities.

Three steps: pick one span where mentions overlap; group spans naming the same entity
("Zuckerbergs" and "Zuckerberg" into "Mark Zuckerberg"; gazetteer spellings together);
then count every occurrence of the entity's spellings in the text, since the model tags only
some of them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

import regex

from .entity_rules import DECISIVE, STRONG
from .entity_types import Evidence, resolve
from .gazetteer import non_entities, organisation_group
from .mention import PER, Mention

_EDGE_JUNK = regex.compile(r"^[^\p{L}\p{N}]+|[^\p{L}\p{N}.]+$")
_GENITIVE_END = regex.compile(r"(?:'s|’s|s'|s)$")


@dataclass
class Span:
    start: int
    end: int
    text: str
    sources: list[tuple[str, str, str]] = field(default_factory=list)  # (source, label, kind)

    def tier(self) -> int:
        kinds = {kind for _, _, kind in self.sources}
        sources = {source for source, _, _ in self.sources}
        if DECISIVE in kinds or "gazetteer" in sources:
            return 0
        if "model" in sources or STRONG in kinds:
            return 1
        return 2


@dataclass
class Entity:
    label: str
    spellings: Counter
    evidence: Evidence
    aliases: set[str]
    name: str = ""
    count: int = 0
    first_offset: int = -1


def select_spans(found: list[tuple[Mention, str]]) -> list[Span]:
    """One span per stretch of text: trusted sources first, longer spans within a tier."""
    by_range: dict[tuple[int, int], Span] = {}
    for mention, kind in found:
        span = by_range.setdefault((mention.start, mention.end), Span(mention.start, mention.end, mention.text))
        span.sources.append((mention.source, mention.label, kind))
    listed = [(s.start, s.end) for s in by_range.values() if any(src == "gazetteer" for src, _, _ in s.sources)]

    def rank(span: Span) -> tuple:
        tier = span.tier()
        # "Porsche SE" by a strong rule beats the gazetteer's "Porsche" inside it.
        if tier == 1 and any(k == STRONG for _, _, k in span.sources) and any(
            span.start <= a and b <= span.end and (a, b) != (span.start, span.end) for a, b in listed
        ):
            tier = 0
        return (tier, span.start - span.end, span.start)

    chosen: list[Span] = []
    taken: list[tuple[int, int]] = []
    for span in sorted(by_range.values(), key=rank):
        if all(span.end <= a or span.start >= b for a, b in taken):
            chosen.append(span)
            taken.append((span.start, span.end))
    return sorted(chosen, key=lambda s: s.start)


def build_entities(spans: list[Span], text: str, language: str, ablate: frozenset[str] = frozenset()) -> list[Entity]:
    skip = frozenset() if "non_entities" in ablate else non_entities(language)
    named = []
    for span in spans:
        name = clean_name(span.text)
        listed = any(source == "gazetteer" for source, _, _ in span.sources)
        # Lower-case words are no names, but a listed one is ("dpa").
        if len(name) < 2 or name in skip or not (listed or any(c.isupper() for c in name)):
            continue
        named.append((name, span))
    names = {name for name, _ in named}
    named = [(_strip_genitive(name, names, text), span) for name, span in named]

    groups: dict[object, Entity] = {}
    for name, span in named:
        evidence = Evidence()
        for source, label, kind in span.sources:
            evidence.add(source, label, kind, len(name.split()))
        key = _group_key(name)
        entity = groups.setdefault(key, Entity("", Counter(), Evidence(), set()))
        entity.spellings[name] += 1
        entity.aliases.update({name, clean_name(span.text)})
        entity.evidence.merge(evidence)

    if "link_surnames" not in ablate:
        _link_surnames(groups)
    entities = []
    for entity in groups.values():
        entity.name = _canonical(entity.spellings)
        label = resolve(entity.evidence, entity.name)
        if label is None:
            continue
        entity.label = label
        entities.append(entity)
    _count_occurrences(entities, text)
    return entities


def clean_name(text: str) -> str:
    name = _EDGE_JUNK.sub("", " ".join(text.split()))
    # A sentence's full stop is not part of the name; "Inc." and "St." keep theirs.
    if name.endswith(".") and len(name.split()[-1]) > 4:
        name = name[:-1]
    return name


def _strip_genitive(name: str, names: set[str], text: str) -> str:
    """German "Zuckerbergs"/"Metas", English "Zuckerberg's" -> the base, if the base is used too."""
    match = _GENITIVE_END.search(name)
    if not match or len(name) - len(match.group()) < 2:
        return name
    base = name[: match.start()]
    if base in names or _occurs(base, text):
        return base
    return name


def _occurs(name: str, text: str) -> bool:
    return next(_standalone(name, text, ("",)), None) is not None


_WORD_CHAR = regex.compile(r"[\p{L}\p{N}]")
_SUFFIXES = ("s", "'s", "’s", "'", "")


def _standalone(name: str, text: str, suffixes: tuple[str, ...] = _SUFFIXES):
    r"""(start, end) of each occurrence of `name` not inside a word, optionally followed by one
    of `suffixes` (tried in order; end includes it), left to right, not overlapping: what
    finditer of (?<![\p{L}\p{N}])NAME(?:s|'s|’s|')?(?![\p{L}\p{N}]) finds, without compiling
    a pattern per name (that compiling was a third of the merge's time)."""
    is_word = _WORD_CHAR.match
    at = text.find(name)
    while at >= 0:
        after = at + len(name)
        end = None
        if at == 0 or not is_word(text, at - 1):
            for suffix in suffixes:
                stop = after + len(suffix)
                if text.startswith(suffix, after) and (stop >= len(text) or not is_word(text, stop)):
                    end = stop
                    break
        if end is None:
            at = text.find(name, at + 1)
        else:
            yield at, end
            at = text.find(name, end)


def _group_key(name: str) -> object:
    group = organisation_group(name)
    return ("gazetteer", group) if group is not None else name


def _link_surnames(groups: dict[object, Entity]) -> None:
    """A lone surname joins the only full-name person it ends ("Wang" -> "Alexandr Wang")."""
    persons_by_surname: dict[str, list[object]] = defaultdict(list)
    for key, entity in groups.items():
        if entity.evidence.model_full_name_person:
            for spelling in entity.spellings:
                if len(spelling.split()) >= 2:
                    persons_by_surname[spelling.split()[-1]].append(key)
                    break
    for surname, keys in persons_by_surname.items():
        if len(keys) != 1 or surname not in groups or surname == keys[0]:
            continue
        person = groups[keys[0]]
        lone = groups.pop(surname)
        person.spellings.update(lone.spellings)
        person.aliases.update(lone.aliases)
        person.evidence.merge(lone.evidence)


def _canonical(spellings: Counter) -> str:
    # The fullest spelling names the entity; frequency, then alphabet, break ties.
    return min(spellings, key=lambda s: (-len(s.split()), -len(s), -spellings[s], s))


def _count_occurrences(entities: list[Entity], text: str) -> None:
    """Counts every standalone occurrence of each entity's spellings, longest spellings first."""
    owners = sorted(
        ((alias, entity) for entity in entities for alias in _aliases(entity)),
        key=lambda pair: -len(pair[0]),
    )
    taken = [False] * len(text)
    for entity in entities:
        entity.count, entity.first_offset = 0, -1
    for alias, entity in owners:
        for start, _ in _standalone(alias, text):
            end = start + len(alias)
            if any(taken[start:end]):
                continue
            taken[start:end] = [True] * (end - start)
            entity.count += 1
            if entity.first_offset < 0 or start < entity.first_offset:
                entity.first_offset = start


def _aliases(entity: Entity) -> set[str]:
    aliases = set(entity.aliases)
    if entity.label == PER:
        # Articles name a person in full once, then by surname.
        aliases.update(s.split()[-1] for s in entity.spellings if len(s.split()) >= 2)
    return {a for a in aliases if len(a) >= 2}
