"""Context rules that type names the statistical model misses or mislabels.

CoreNLP's German CRF was trained on 1990s newspaper text: it finds people well but knows few
of today's companies ("Meta" comes out as a person, "OpenAI" not at all). News prose names an
organisation's kind around it ("Perplexity, ein KI-Startup", "CEO von Meta", "Facebooks
Mutterkonzern", "Foto: Bloomberg"), and these patterns hold across articles, so they are
written here per language rather than learned.

Rules come in kinds, which entity_types.resolve ranks against the model and the gazetteer:
  decisive  the pattern settles the type ("Lake Tahoe", "das Videoprojekt Sora")
  strong    the context names an organisation; beats the model, not a full-name person
  credit    a photo or source credit: usually an agency or outlet, but photographers are people
  weak      a role word or preposition before the name ("CEO von Meta", "in Redmond"): only
            types a name the model left untyped or took for a lone-word person
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import regex

from .mention import LOC, MISC, ORG, Mention

# A name token starts with a capital; inner hyphens and dots join ("Start-up", "Amazon.com").
_TOK = r"\p{Lu}[\p{L}\p{N}&]*(?:[-.][\p{L}\p{N}&]+)*"
NAME = rf"{_TOK}(?:[ \t]+{_TOK}){{0,2}}"
# Capitalised words that open a sentence or a quote, never a name's first token.
_LEADING_STOP = frozenset(
    "Der Die Das Dem Den Des Ein Eine Einem Einen Einer Eines Im Am Beim Vom Zum Zur Auch Und Oder Aber "
    "Laut Neben Mit Bei Von Für Nach Seit Wie Als Dass Wenn Nun Jetzt Besonders Darüber Während Trotz "
    "The A An In On At Of For With By From And Or But As If When While After Before Since According "
    "This That These Those His Her Its Their Our My Your".split()
)

_ORG_NOUNS_DE = (
    r"(?:Unternehmen|Startup|Start-up|Konzern|Firma|Hersteller|Anbieter|Bank|Versicherer|Zeitung|"
    r"Nachrichtenagentur|Agentur|Sender|Verlag|Verein|Partei|Behörde|Organisation|Stiftung|Institut|"
    r"Universität|Holding|Fonds|Labor|Entwickler|Mutterkonzern|Tochter|Tochterfirma|Unternehmensgruppe|"
    r"Zeitschrift|Magazin|Rundfunkanstalt|Fluggesellschaft|Autobauer|Chipkonzern|Softwarekonzern)"
)
_ORG_NOUNS_EN = (
    r"(?:company|startup|start-up|firm|maker|manufacturer|provider|bank|insurer|newspaper|"
    r"news agency|agency|broadcaster|publisher|party|organisation|organization|foundation|institute|"
    r"university|group|conglomerate|lab|developer|subsidiary|carrier|airline|automaker|chipmaker|retailer)"
)
_ARTICLES_DE = r"(?:ein|eine|einem|einer|eines|das|der|die|dem|den|des)"
_ARTICLES_EN = r"(?:a|an|the)"
_ROLES_DE = (
    r"(?:CEO|Chef|Chefin|Gründer|Gründerin|Mitbegründer|Mitbegründerin|Mitgründer|Leiter|Leiterin|"
    r"Sprecher|Sprecherin|Vorstand|Vorstandschef|Präsident|Präsidentin|Manager|Managerin|Mitarbeiter|"
    r"Mitarbeiterin|Investor|Aktionär|Eigentümer|Übernahme|Kauf|Börsengang)"
)
_ROLES_EN = (
    r"(?:CEO|chief executive|chairman|chairwoman|chair|president|founder|co-founder|cofounder|head|"
    r"spokesman|spokeswoman|spokesperson|director|executive|employee|investor|owner|acquisition|IPO)"
)
_SUFFIX = (
    r"(?:AI|Inc\.?|Corp\.?|Corporation|GmbH|AG|SE|KGaA|Ltd\.?|LLC|plc|PLC|Holdings?|Group|Labs?|"
    r"Technologies|Capital|Ventures|Partners|Pharma|Motors|Airlines|Bank)"
)
_GEO_BEFORE = r"(?:Lake|Mount|Mt\.|Cape|Fort|Port|Sankt|St\.|Bad|Lago|Monte|Rio|Isla|Isle of)"
_GEO_AFTER = r"(?:River|Valley|Bay|Island|Islands|Beach|County|Mountains|Peninsula|Canyon|Desert|Strait|Gulf)"
_PRODUCT_DE = r"\p{L}*(?:[Pp]rojekt|[Pp]rodukt|[Mm]odell|[Cc]hatbot|[Ss]oftware|[Pp]rogramm|[Bb]etriebssystem|[Ss]martphone|[Ss]piel)"
_PRODUCT_EN = r"(?:project|product|model|chatbot|software|programme|program|operating system|smartphone|game)"


DECISIVE, STRONG, CREDIT, WEAK = "decisive", "strong", "credit", "weak"


@dataclass(frozen=True)
class Rule:
    pattern: str  # the name is the group called "n"
    label: str
    kind: str
    name: str = ""  # for the benchmark's ablations (bench/entities_bench.py --ablate)


_RULES: dict[str, list[Rule]] = {
    "de": [
        # "Perplexity, ein KI-Startup" / "Scale AI, dem von Alexandr Wang gegründeten Unternehmen"
        Rule(rf"(?P<n>{NAME}),\s+{_ARTICLES_DE}\s+(?:[^\s,.;:]+\s+){{0,5}}?(?:[\p{{L}}]+-)?{_ORG_NOUNS_DE}\b", ORG, STRONG, "de.org_apposition"),
        # "Facebooks Mutterkonzern", "Apples Chef"
        Rule(r"(?P<n>" + _TOK + r")s\s+(?:Mutterkonzern|Muttergesellschaft|Tochter\p{L}*|Konzernchef\p{L}*|Chef|Chefin|Vorstand\p{L}*|Aktien?|Umsatz|Quartalszahlen|Hauptsitz|Zentrale|Gründer\p{L}*|Mitbegründer\p{L}*)\b", ORG, STRONG, "de.org_genitive_role"),
        # "das Start-up Perplexity", "der Konzern Meta"
        Rule(rf"\b{_ARTICLES_DE}\s+(?:[\p{{L}}]+-)?{_ORG_NOUNS_DE}\s+(?P<n>{NAME})", ORG, STRONG, "de.org_noun_before"),
        Rule(rf"(?:Foto|Fotos|Bild|Bilder|Quelle|Grafik|Video):\s*(?P<n>{NAME})", ORG, CREDIT, "de.credit"),
        Rule(rf"(?P<n>(?:{_TOK}[ \t]+){{1,2}}{_SUFFIX})(?![\p{{L}}\p{{N}}])", ORG, STRONG, "de.org_suffix"),
        Rule(rf"(?P<n>{_GEO_BEFORE}[ \t]+{_TOK}(?:[ \t]+{_TOK})?)", LOC, DECISIVE, "de.geo_prefix"),
        Rule(rf"\b{_PRODUCT_DE}\s+(?P<n>{NAME})", MISC, DECISIVE, "de.product"),
        # "CEO von Meta", "Mitbegründer von OpenAI", "bei Meta"
        Rule(rf"\b{_ROLES_DE}\s+(?:von|bei|des|der)\s+(?P<n>{NAME})", ORG, WEAK, "de.role_of"),
        Rule(rf"\b(?:bei|für)\s+(?P<n>{NAME})", ORG, WEAK, "de.bei_fuer"),
        Rule(rf"\b(?:in|nach|aus)\s+(?P<n>{NAME})", LOC, WEAK, "de.in_nach_aus"),
    ],
    "en": [
        Rule(rf"(?P<n>{NAME}),\s+{_ARTICLES_EN}\s+(?:[^\s,.;:]+\s+){{0,5}}?{_ORG_NOUNS_EN}\b", ORG, STRONG, "en.org_apposition"),
        Rule(rf"(?P<n>{_TOK})(?:'s|’s)\s+(?:parent company|parent|subsidiary|chief executive|CEO|shares|stock|headquarters|founder|co-founder|board)\b", ORG, STRONG, "en.org_genitive_role"),
        Rule(rf"\b{_ARTICLES_EN}\s+(?:[\p{{L}}-]+\s+)?{_ORG_NOUNS_EN}\s+(?P<n>{NAME})", ORG, STRONG, "en.org_noun_before"),
        Rule(rf"(?:Photo|Photos|Image|Picture|Source|Credit|Video):\s*(?P<n>{NAME})", ORG, CREDIT, "en.credit"),
        Rule(rf"(?P<n>(?:{_TOK}[ \t]+){{1,2}}{_SUFFIX})(?![\p{{L}}\p{{N}}])", ORG, STRONG, "en.org_suffix"),
        Rule(rf"(?P<n>{_GEO_BEFORE}[ \t]+{_TOK}(?:[ \t]+{_TOK})?)", LOC, DECISIVE, "en.geo_prefix"),
        Rule(rf"(?P<n>{_TOK}(?:[ \t]+{_TOK})?[ \t]+{_GEO_AFTER})", LOC, DECISIVE, "en.geo_suffix"),
        Rule(rf"\b(?:{_ARTICLES_EN}\s+)?{_PRODUCT_EN}\s+(?P<n>{NAME})", MISC, DECISIVE, "en.product"),
        Rule(rf"\b{_ROLES_EN}\s+(?:of|at)\s+(?P<n>{NAME})", ORG, WEAK, "en.role_of"),
        Rule(rf"\b(?:at|joined|left)\s+(?P<n>{NAME})", ORG, WEAK, "en.at_joined_left"),
        Rule(rf"\b(?:in|to|from|near)\s+(?P<n>{NAME})", LOC, WEAK, "en.in_to_from"),
    ],
}


@lru_cache(maxsize=None)
def _compiled(language: str):
    return [(regex.compile(rule.pattern), rule) for rule in _RULES.get(language, [])]


def looks_like_name(name: str) -> bool:
    """Shapes that common words don't have: CamelCase ("OpenAI"), acronyms ("WSJ"), digits."""
    for token in name.split():
        core = token.strip(".-")
        if len(core) >= 2 and core.isupper():
            return True
        if any(c.isupper() for c in core[1:]) or any(c.isdigit() for c in core):
            return True
    return False


def rule_names(language: str) -> list[str]:
    return [rule.name for rule in _RULES.get(language, [])]


def rule_mentions(text: str, language: str, skip: frozenset[str] = frozenset()) -> list[tuple[Mention, str]]:
    """(mention, rule kind) pairs from the language's rules (but those named in `skip`)."""
    found = {}
    for pattern, rule in _compiled(language):
        if rule.name in skip:
            continue
        # Overlapping matches, so that "bei Meta" doesn't hide a rule starting inside it.
        for match in pattern.finditer(text, overlapped=True):
            start, end = _trim_leading_stopwords(text, match.start("n"), match.end("n"))
            if start >= end or (start > 0 and (text[start - 1].isalnum())):
                continue  # empty, or a match starting inside a word ("AI" of "OpenAI")
            mention = Mention(text[start:end], rule.label, start, end, "rule")
            found[(mention, rule.kind)] = None
    return list(found)


def _trim_leading_stopwords(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end:
        word = text[start:end].split(None, 1)[0]
        if word not in _LEADING_STOP:
            break
        start += len(word)
        while start < end and text[start].isspace():
            start += 1
    return start, end
