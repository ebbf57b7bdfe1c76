"""Scores another NER tool on the entity development sets: alone, and united with the enrich stage.

    # 1. the other tool names its entities, in its own interpreter (here: a spaCy pipeline)
    <other venv>/bin/python bench/entities_other_model.py dump-spacy --model NAME --lang en --out /tmp/other.json
    # 2. this project's venv scores them beside extract_entities (needs the CoreNLP server)
    .venv/bin/python bench/entities_other_model.py score --dump /tmp/other.json --lang en [--out PATH]

The dump is {document id: [[label, text], ...]} over the documents entities_bench.py loads, so any
tool can be scored by writing that file. Labels map to the metric's types by --labels (OntoNotes'
PERSON, ORG, GPE, LOC, FAC by default). Reported: the tool alone, the enrich stage alone, their
union (every name either finds), and the enrich stage's names typed as the tool types them.
Kept for deciding about models whose weights are not installed with the project (README.md,
"Entities": what the registries ship).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIELDS = ("persons", "organizations", "locations")
ONTONOTES = {"PERSON": "persons", "ORG": "organizations", "GPE": "locations", "LOC": "locations", "FAC": "locations"}
# The documents of each language as entities_bench.py reads them, without importing it (the other
# tool's interpreter has none of this project's packages).
BRACKETED = {"en": REPO / "bench" / "data" / "uner-en-pud-news.txt", "fr": REPO / "bench" / "data" / "sequoia-fr-er-ner.txt",
             "es": REPO / "bench" / "data" / "europarl-es-ner.txt"}


def bracketed_texts(path: Path) -> dict[str, str]:
    docs: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# newdoc "):
            current = docs.setdefault(line.split(None, 2)[2], [])
        elif line.strip() and not line.startswith("#"):
            current.append(re.sub(r"\[(?:PER|ORG|LOC|MISC) ([^\]]+)\]", r"\1", line))
    return {doc_id: "\n".join(sents) for doc_id, sents in docs.items()}


def dump_spacy(model: str, lang: str, out: Path) -> None:
    import spacy  # only in the other tool's interpreter

    nlp = spacy.load(model)
    texts = bracketed_texts(BRACKETED[lang])
    out.write_text(json.dumps({doc_id: [[e.label_, e.text] for e in nlp(text).ents] for doc_id, text in texts.items()}),
                   encoding="utf-8")


def as_found(mentions: list[list[str]], labels: dict[str, str]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for label, text in mentions:
        field = labels.get(label)
        if field:
            # spaCy keeps "the" and a possessive inside a span; the metric's names have neither.
            name = re.sub(r"^(?:the|The) ", "", re.sub(r"['’]s$", "", text.strip()))
            found.setdefault(field, []).append({"name": name})
    return found


def union(ours: dict, other: dict) -> dict:
    result = {}
    for field in FIELDS:
        names = {e["name"] for e in ours.get(field, [])}
        result[field] = [{"name": n} for n in sorted(names)] + [e for e in other.get(field, []) if e["name"] not in names]
    return result


def retyped(ours: dict, other: dict) -> dict:
    other_field = {e["name"]: field for field in FIELDS for e in other.get(field, [])}
    result: dict[str, list[dict]] = {}
    for field in FIELDS:
        for e in ours.get(field, []):
            result.setdefault(other_field.get(e["name"], field), []).append({"name": e["name"]})
    return result


def score(dump: Path, lang: str, labels: dict[str, str]) -> dict:
    sys.path.insert(0, str(REPO / "bench"))
    import entities_bench
    from newsflow.enrich.entities import extract_entities

    scorer = entities_bench._scorer()
    docs = entities_bench.datasets(scorer, 0)[lang]
    mentions = json.loads(dump.read_text(encoding="utf-8"))
    ids = {d["text"]: d["id"] for d in docs}
    other = {d["id"]: as_found(mentions[d["id"]], labels) for d in docs}
    ours = {d["id"]: extract_entities(d["text"], lang) for d in docs}
    ways = {
        "other alone": lambda text: other[ids[text]],
        "enrich alone": lambda text: ours[ids[text]],
        "union": lambda text: union(ours[ids[text]], other[ids[text]]),
        "enrich, typed as the other tool types": lambda text: retyped(ours[ids[text]], other[ids[text]]),
    }
    return {way: entities_bench.evaluate(scorer, docs, find) for way, find in ways.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="step", required=True)
    d = sub.add_parser("dump-spacy")
    d.add_argument("--model", required=True)
    d.add_argument("--lang", default="en", choices=sorted(BRACKETED))
    d.add_argument("--out", type=Path, required=True)
    s = sub.add_parser("score")
    s.add_argument("--dump", type=Path, required=True)
    s.add_argument("--lang", default="en")
    s.add_argument("--labels", default=json.dumps(ONTONOTES), help="JSON: the tool's label -> persons/organizations/locations")
    s.add_argument("--out", type=Path)
    a = ap.parse_args()
    if a.step == "dump-spacy":
        dump_spacy(a.model, a.lang, a.out)
        return 0
    sys.path.insert(0, str(REPO / "services"))
    result = score(a.dump, a.lang, json.loads(a.labels))
    for way, figures in result.items():
        print(f"{way:40s} F1={figures['all']['F1']} P={figures['all']['P']} R={figures['all']['R']} "
              + " ".join(f"{t}={figures[t]['F1']}" for t in ("PER", "ORG", "LOC")))
    if a.out:
        a.out.write_text(json.dumps({"command": "bench/entities_other_model.py " + " ".join(sys.argv[1:]), "lang": a.lang,
                                     "results": result}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
