"""The CoreNLP client's reading of the server's CoNLL answer (no server needed): mentions as
CoreNLP's entity-mention chunker makes them, with offsets into the Python text."""

from __future__ import annotations

from newsflow.enrich import corenlp
from newsflow.enrich.mention import LOC, MISC, ORG, PER


def conll(*sentences: list[tuple[str, int, str]]) -> str:
    """The server's answer: `tag<TAB>end offset<TAB>original text`, a blank line after each sentence."""
    return "".join("".join(f"{tag}\t{end}\t{word}\n" for tag, end, word in sentence) + "\n" for sentence in sentences)


def spans(answer: str, text: str) -> list[tuple[str, str, int, int]]:
    found = [(m.text, m.label, m.start, m.end) for m in corenlp.mentions(answer, text)]
    for name, _label, start, end in found:
        assert text[start:end] == name
    return found


def test_runs_of_one_tag_are_one_mention_and_o_ends_them():
    text = "Angela Merkel visited Siemens AG in New York."
    answer = conll([("PERSON", 6, "Angela"), ("PERSON", 13, "Merkel"), ("O", 21, "visited"),
                    ("ORGANIZATION", 29, "Siemens"), ("ORGANIZATION", 32, "AG"), ("O", 35, "in"),
                    ("LOCATION", 39, "New"), ("LOCATION", 44, "York"), ("O", 45, ".")])
    assert spans(answer, text) == [("Angela Merkel", PER, 0, 13), ("Siemens AG", ORG, 22, 32), ("New York", LOC, 36, 44)]


def test_a_change_of_tag_or_a_sentence_end_splits_a_run():
    text = "Bonn Telekom.\nBerlin Zoo"
    answer = conll([("LOCATION", 4, "Bonn"), ("ORGANIZATION", 12, "Telekom"), ("O", 13, ".")],
                   [("LOCATION", 20, "Berlin")], [("LOCATION", 24, "Zoo")])
    assert spans(answer, text) == [("Bonn", LOC, 0, 4), ("Telekom", ORG, 5, 12), ("Berlin", LOC, 14, 20), ("Zoo", LOC, 21, 24)]


def test_iob_tags_of_the_french_model():
    text = "Emmanuel Macron à Paris, Lyon"
    answer = conll([("I-PER", 8, "Emmanuel"), ("I-PER", 15, "Macron"), ("O", 17, "à"), ("I-LOC", 23, "Paris"),
                    ("B-LOC", 24, ","), ("I-LOC", 29, "Lyon")])
    # B- opens a mention of its own even after one of the same type.
    assert spans(answer, text) == [("Emmanuel Macron", PER, 0, 15), ("Paris", LOC, 18, 23), (", Lyon", LOC, 23, 29)]


def test_pieces_of_a_german_contraction_start_where_it_starts():
    # CoreNLP's German multi-word tokens: "zum" is "zu" + "dem", both ending where "zum" ends.
    text = "Fahrt zum Bodensee"
    answer = conll([("O", 5, "Fahrt"), ("LOCATION", 9, "zu"), ("LOCATION", 9, "dem"), ("LOCATION", 18, "Bodensee")])
    assert spans(answer, text) == [("zum Bodensee", LOC, 6, 18)]


def test_offsets_after_characters_beyond_the_bmp():
    # Java counts UTF-16 units: the emoji is two of them, one Python character.
    text = "Wow 😀 Olaf Scholz"
    answer = conll([("O", 3, "Wow"), ("O", 6, "😀"), ("PERSON", 11, "Olaf"), ("PERSON", 18, "Scholz")])
    assert spans(answer, text) == [("Olaf Scholz", PER, 6, 17)]


def test_misc_is_kept_and_other_tags_are_not():
    text = "Deutsche Bundesliga on MONEY"
    answer = conll([("MISC", 8, "Deutsche"), ("MISC", 19, "Bundesliga"), ("O", 22, "on"), ("MONEY", 28, "MONEY")])
    assert spans(answer, text) == [("Deutsche Bundesliga", MISC, 0, 19)]


def test_the_request_asks_for_the_columns_read():
    for properties in corenlp.PROPERTIES.values():
        assert properties["outputFormat"] == "conll"
        assert properties["output.columns"] == "ner,endPosition,current"
        # Pretty-printed: a line per token (compact CoNLL joins a sentence's fields with "/").
        assert properties.get("output.prettyPrint", "true") == "true"


def test_every_model_asked_for_is_installed_and_warmed_up():
    # A fresh machine gets only what infra/corenlp/pom.xml unpacks, and corenlp.sh's warm-up
    # must load the same models under the same NER settings (part of the server's cache key).
    import fnmatch
    import json
    import re
    from pathlib import Path

    infra = Path(__file__).resolve().parents[2] / "infra" / "corenlp"
    includes = [glob for block in re.findall(r"<includes>(.*?)</includes>", (infra / "pom.xml").read_text())
                for glob in block.split(",")]
    script = (infra / "corenlp.sh").read_text()
    for language, properties in corenlp.PROPERTIES.items():
        for model in properties["ner.model"].split(","):
            assert any(fnmatch.fnmatch(model, glob.replace("**", "*")) for glob in includes), model
        warm = json.loads(re.search(rf"^\s*{language}='(.*)'$", script, re.M).group(1))
        for key, value in properties.items():
            if key.startswith("ner.") or key == "annotators":
                assert warm.get(key) == value, (language, key)
