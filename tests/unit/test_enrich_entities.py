"""Named entities: the seed thresholds of issue 5 on the real CoreNLP models, English
examples, and the merging logic on hand-made mentions (no server needed for those)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from newsflow.enrich import corenlp
from newsflow.enrich.entities import UnsupportedLanguage, extract_entities
from newsflow.enrich.entity_merge import build_entities, select_spans
from newsflow.enrich.mention import LOC, ORG, PER, Mention

REPO = Path(__file__).resolve().parents[2]
SEED_DIR = REPO.parent / "shared" / "fixtures" / "seed-article"
EXPECTED = json.loads((SEED_DIR / "expected.json").read_text(encoding="utf-8"))["enrich"]
FIELDS = {"persons": "persons", "organizations": "organizations", "locations": "locations"}
EXPECTED_URL = "https://www.vietnam.vn/de/mark-zuckerbergs-seltsame-aktionen"


def seed_body() -> str:
    """The seed as the enrich stage sees it: title, lead and body from the parse stage, or the
    article part of seed.txt when the parser can't give it."""
    try:
        from newsflow.parse.extract import extract_article

        page = extract_article((SEED_DIR / "page.html").read_text(encoding="utf-8"), EXPECTED_URL)
        text = "\n".join(p for p in (page.get("title"), page.get("lead"), page.get("text")) if p)
        if "Unerwartete Aktion" in text and "Gleiche Kategorie" not in text:
            return text
    except Exception:  # noqa: BLE001 - any parser trouble: fall back to the captured text
        pass
    captured = (SEED_DIR / "seed.txt").read_text(encoding="utf-8")
    body = captured[captured.index("Mark Zuckerbergs seltsame Aktionen") : captured.index("Quelle:")]
    return "\n".join(line for line in body.splitlines() if line.strip() and "tim nhan tai anh" not in line)


ENGLISH = (
    "Microsoft agreed to buy Activision Blizzard for $68.7 billion, the largest deal in the company's "
    "history. Satya Nadella, Microsoft's chief executive, said the acquisition would help the company "
    "compete with Sony and Tencent in mobile gaming. Bobby Kotick will remain CEO of Activision Blizzard "
    "until the deal closes. Nadella spoke to reporters in Redmond, Washington, on Tuesday. Regulators in "
    "Brussels and London are expected to review the deal. Kotick, who has run the publisher since 1991, "
    "will earn a payout of about €40m, according to Bloomberg."
)
ENGLISH_2 = (
    "Sam Altman returned as chief executive of OpenAI on Wednesday, days after the board fired him. "
    "Altman had briefly agreed to join Microsoft, whose chief Satya Nadella welcomed the move. "
    "Greg Brockman, a co-founder of the startup, also returns. The company, based in San Francisco, "
    "said Bret Taylor will chair the new board. Employees in California and New York had threatened to quit."
)


def _server_up() -> bool:
    try:
        return httpx.get(corenlp.server_url() + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def corenlp_server():
    """The CoreNLP server, started by the project's script when it isn't running already."""
    if _server_up():
        yield
        return
    script = REPO / "infra" / "corenlp" / "corenlp.sh"
    started = subprocess.run(["bash", str(script), "up"], capture_output=True, text=True, timeout=1200)
    if started.returncode != 0:
        pytest.fail(f"could not start CoreNLP:\n{started.stdout}\n{started.stderr}")
    yield
    subprocess.run(["bash", str(script), "down"], capture_output=True, text=True, timeout=120)


def names(result: dict, field: str) -> set[str]:
    return {item["name"] for item in result[field]}


def test_seed_meets_issue_thresholds(corenlp_server):
    result = extract_entities(seed_body(), "de")
    persons = names(result, "persons") & set(EXPECTED["persons"])
    organisations = names(result, "organizations") & set(EXPECTED["organizations"])
    found = [(f, n) for f in FIELDS for n in names(result, f)]
    correct = [(f, n) for f, n in found if n in EXPECTED[f]]
    precision = len(correct) / len(found)
    report = f"persons {len(persons)}/10, orgs {len(organisations)}/8, precision {precision:.2f}: {result}"
    assert len(persons) >= 9, report
    assert len(organisations) >= 6, report
    assert precision >= 0.8, report


def test_seed_merges_mentions_of_one_person(corenlp_server):
    text = seed_body()
    result = extract_entities(text, "de")
    zuckerberg = next(p for p in result["persons"] if p["name"] == "Mark Zuckerberg")
    # "Zuckerberg", "Zuckerbergs" and "Mark Zuckerberg(s)" are one person, counted together.
    assert zuckerberg["count"] >= 10
    assert not names(result, "persons") & {"Zuckerberg", "Zuckerbergs", "Mark Zuckerbergs"}
    assert not names(result, "locations") & {"Zuckerberg"}
    assert text[zuckerberg["first_offset"]:].startswith("Zuckerberg") or text[zuckerberg["first_offset"]:].startswith("Mark Zuckerberg")
    assert {"Meta", "Metas"} & names(result, "organizations") == {"Meta"}
    assert "Lake Tahoe" in names(result, "locations") and "Palo Alto" in names(result, "locations")


def test_seed_result_is_deterministic(corenlp_server):
    text = seed_body()
    assert extract_entities(text, "de") == extract_entities(text, "de")


def test_english_article(corenlp_server):
    result = extract_entities(ENGLISH, "en")
    assert {"Satya Nadella", "Bobby Kotick"} <= names(result, "persons")
    assert {"Microsoft", "Activision Blizzard", "Sony", "Tencent", "Bloomberg"} <= names(result, "organizations")
    assert {"Washington", "Brussels", "London"} <= names(result, "locations")
    nadella = next(p for p in result["persons"] if p["name"] == "Satya Nadella")
    assert nadella["count"] == 2  # "Satya Nadella" and later "Nadella"
    assert ENGLISH[nadella["first_offset"]:].startswith("Satya Nadella")


def test_english_article_with_lone_surnames(corenlp_server):
    result = extract_entities(ENGLISH_2, "en")
    assert {"Sam Altman", "Satya Nadella", "Greg Brockman", "Bret Taylor"} <= names(result, "persons")
    assert {"OpenAI", "Microsoft"} <= names(result, "organizations")
    assert {"San Francisco", "California", "New York"} <= names(result, "locations")
    altman = next(p for p in result["persons"] if p["name"] == "Sam Altman")
    assert altman["count"] == 2 and "Altman" not in names(result, "persons")


def test_every_offset_points_at_a_mention(corenlp_server):
    for text, language in ((seed_body(), "de"), (ENGLISH, "en"), (ENGLISH_2, "en")):
        for field in FIELDS:
            for item in extract_entities(text, language)[field]:
                assert item["count"] >= 1
                last = item["name"].split()[-1]
                assert text[item["first_offset"]:].startswith((item["name"], last)), (item, field)


def test_unsupported_language_is_refused():
    with pytest.raises(UnsupportedLanguage):
        extract_entities("Xin chào Hà Nội", "vi")


def test_server_down_is_an_outage_not_the_texts_fault(monkeypatch):
    from newsflow.core.outage import DependencyUnavailable

    monkeypatch.setenv("NEWSFLOW_CORENLP_URL", "http://127.0.0.1:9")  # discard port: nothing listens
    with pytest.raises(DependencyUnavailable, match="not reachable") as raised:
        corenlp.recognise("Angela Merkel besuchte Berlin.", "de")
    assert raised.value.dependency == "corenlp"


# ------------------------------------------------------------- merging, without the server

def _m(text: str, sentence: str, label: str, source: str = "model", nth: int = 0) -> Mention:
    start = -1
    for _ in range(nth + 1):
        start = sentence.index(text, start + 1)
    return Mention(text, label, start, start + len(text), source)


def test_merge_genitive_and_surname_into_full_name():
    s = "Mark Zuckerberg sagte, Zuckerbergs Plan sei gut. Zuckerberg lacht."
    found = [(_m("Mark Zuckerberg", s, PER), "model"), (_m("Zuckerbergs", s, LOC), "model"),
             (_m("Zuckerberg", s, LOC, nth=2), "model")]
    [entity] = build_entities(select_spans(found), s, "de")
    assert (entity.name, entity.label, entity.count, entity.first_offset) == ("Mark Zuckerberg", PER, 3, 0)


def test_role_rule_turns_lone_word_person_into_organisation():
    s = "Der CEO von Meta sprach. Meta wächst."
    found = [(_m("Meta", s, PER), "model"), (_m("Meta", s, PER, nth=1), "model"),
             (Mention("Meta", ORG, s.index("Meta"), s.index("Meta") + 4, "rule"), "weak")]
    [entity] = build_entities(select_spans(found), s, "de")
    assert (entity.name, entity.label, entity.count) == ("Meta", ORG, 2)


def test_gazetteer_spellings_merge_under_the_longest():
    s = "Laut WSJ stieg der Kurs. Das Wall Street Journal berichtet."
    found = [(_m("WSJ", s, ORG, "gazetteer"), "gazetteer"), (_m("Wall Street Journal", s, ORG, "gazetteer"), "gazetteer")]
    [entity] = build_entities(select_spans(found), s, "de")
    assert (entity.name, entity.count, entity.first_offset) == ("Wall Street Journal", 2, s.index("WSJ"))


def test_non_entities_and_lowercase_are_dropped():
    s = "Die KI von heute und die ki von morgen."
    found = [(_m("KI", s, ORG), "model"), (_m("ki", s, ORG), "model")]
    assert build_entities(select_spans(found), s, "de") == []


def test_no_entity_spans_a_line_break(corenlp_server):
    # A headline ending in a name-like word, then a paragraph opening with a person's name:
    # the span across the break is no entity, and everything reported occurs in the text.
    text = "Deutsche Bahn in Leipzig: Bericht 1727\nSundar Pichai traf sich am Montag in Wien mit Vertretern von BASF."
    found = extract_entities(text, "de")
    for entities in found.values():
        for entity in entities:
            assert "\n" not in entity["name"] and entity["count"] >= 1 and entity["first_offset"] >= 0
    assert "BASF" in [o["name"] for o in found["organizations"]]


def test_a_project_named_after_a_city_leaves_the_city_a_place(corenlp_server):
    text = (
        "Der Bahnhof in Stuttgart wird seit Jahren umgebaut. Gegner des Projekts Stuttgart 21 "
        "demonstrierten am Samstag in der Innenstadt. Der Oberbürgermeister von Stuttgart, Frank Nopper, "
        "verteidigte das Projekt Stuttgart 21 vor dem Gemeinderat."
    )
    found = extract_entities(text, "de")
    assert "Stuttgart" in names(found, "locations")
    assert "Frank Nopper" in names(found, "persons")


def test_english_pronouns_are_not_people(corenlp_server):
    text = "He said the council would meet again. She told reporters that Angela Rayner had called her."
    found = extract_entities(text, "en")
    assert not names(found, "persons") & {"He", "She", "her"}
    assert "Angela Rayner" in names(found, "persons")


def test_gazetteer_names_inside_compounds_are_not_the_organisation():
    from newsflow.enrich.gazetteer import gazetteer_mentions

    text = "Die EU-Politik und die Ex-Nokia-Manager; die EU selbst und Siemens' Zahlen."
    assert [m.text for m in gazetteer_mentions(text)] == ["EU", "Siemens"]


def _resolved(text: str, model: list[tuple[str, str]], language: str = "de") -> dict[str, str]:
    """name -> type after the rules and the merge, the model's mentions given by hand."""
    from newsflow.enrich.entity_rules import rule_mentions

    found = [(_m(name, text, label), "model") for name, label in model] + rule_mentions(text, language)
    return {e.name: e.label for e in build_entities(select_spans(found), text, language) if e.label in (PER, ORG, LOC)}


def test_a_competition_is_no_organisation():
    # Leagues, cups and championships are events (GermEval leaves them untagged, CoNLL calls
    # them MISC), whatever the model says: de.competition, dev-set gain in README.md.
    text = "Der Aufsteiger spielt nächste Saison in der Fußball-Bundesliga und im DFB-Pokal, ein Zweitligist weniger."
    assert _resolved(text, [("Fußball-Bundesliga", ORG), ("DFB-Pokal", ORG), ("Zweitligist", ORG)]) == {}


def test_a_club_named_after_its_league_word_keeps_its_name():
    text = "Der Zweitligist SC Paderborn gewann am Sonntag."
    assert _resolved(text, [("SC Paderborn", ORG)]) == {"SC Paderborn": ORG}


def test_a_club_named_with_its_league_stays_an_organisation():
    text = "Der Bundesliga-Club Hertha BSC trennt sich von seinem Trainer."
    assert _resolved(text, [("Hertha BSC", ORG)]) == {"Hertha BSC": ORG}


def test_an_adjective_of_place_and_a_place_noun_name_a_place():
    text = "Am Kölner Hauptbahnhof und an der Gubener Straße stauten sich die Autos; die Evangelische Kirche half."
    assert _resolved(text, [("Kölner Hauptbahnhof", "MISC"), ("Evangelische Kirche", ORG)]) == {
        "Kölner Hauptbahnhof": LOC, "Gubener Straße": LOC, "Evangelische Kirche": ORG}

