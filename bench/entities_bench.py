"""Entity quality of the enrich stage on public news NER development sets, per language and type.

    .venv/bin/python bench/entities_bench.py [--lang de,en,fr,es] [--limit N] [--ablate] [--errors PATH] [--off NAMES] [--out PATH]
                                             [--properties '{"de": {"ner.model": "..."}}']

The metric is the one of ../shared/benchmarks/entities/score.py (imported from there): per
document, the distinct (type, name) pairs for PER, ORG and LOC; a predicted name is right when
a gold one of the same type equals it or contains it on word boundaries, or the other way round.
Precision, recall and F1 are micro-averaged over documents.

Data (development only; the final judgement is on other news):
  de  GermEval 2014 dev, news documents only (../shared/benchmarks/entities/germeval2014-dev.tsv,
      CC BY 4.0): 1,070 documents, tokenised text as the shared scorer gives it.
  en  Universal NER v1, English PUD, news part (bench/data/uner-en-pud-news.txt, CC BY-SA 4.0,
      see bench/data/README.md): the first 68 news documents, natural (untokenised) text.
  fr  Sequoia (deep-sequoia, PARSEME-FR named entities), the L'Est Républicain news sentences
      of its UD dev split (bench/data/sequoia-fr-er-ner.txt, LGPL-LR): 48 one-sentence
      documents, natural text. Not WikiNER, which CoreNLP's French model was trained on.
  es  Europarl NER evaluation corpus (IXA, bench/data/europarl-es-ner.txt, CC BY-SA 4.0): the
      first 157 sentences of the Spanish file, 4 consecutive sentences a document, tokenised
      text. Parliament debates, not news: CoNLL-2002's EFE newswire may only be used for the
      shared task, and AnCora (the Spanish model's training data) is EFE news of the same year.
Gold MISC (and Sequoia's other types) are dropped, as OTH is for de.

--errors PATH writes the error analysis: per language and type, how many gold entities were
missed outright, found with another type, and how many predictions name nothing in the gold,
with the names of each (the figures README.md's "Entities" section discusses).

--ablate runs each language again without each rule, list and step, one at a time, and reports
what it buys: F1 with it minus F1 without it (CoreNLP's answers are cached, so only the first
run of a language waits for the server).

--properties overrides CoreNLP request properties per language (newsflow.enrich.corenlp.PROPERTIES),
to score another model or combination on the same data (README.md, "Entities": the models tried).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib.util
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_ENTITIES = REPO.parent / "shared" / "benchmarks" / "entities"
EN_DATA = REPO / "bench" / "data" / "uner-en-pud-news.txt"
FR_DATA = REPO / "bench" / "data" / "sequoia-fr-er-ner.txt"
ES_DATA = REPO / "bench" / "data" / "europarl-es-ner.txt"
TYPES = {"PER": "persons", "ORG": "organizations", "LOC": "locations"}
# Steps that are not context rules but can be left out the same way.
STEPS = ["gazetteer", "non_entities", "link_surnames"]
# Steps for some languages only (services/enrich/titles.py: Spanish).
LANGUAGE_STEPS = {"es": ["titles"]}


def _scorer():
    spec = importlib.util.spec_from_file_location("entities_score", SHARED_ENTITIES / "score.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_bracketed(path: Path) -> list[dict]:
    """'# newdoc ID' opens a document; each line is a sentence with entities as [TYPE name]."""
    docs: list[dict] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# newdoc "):
            docs.append({"id": line.split(None, 2)[2], "sents": [], "gold": set()})
        elif line.strip() and not line.startswith("#"):
            docs[-1]["gold"] |= {(t, n) for t, n in re.findall(r"\[(PER|ORG|LOC|MISC) ([^\]]+)\]", line) if t in TYPES}
            docs[-1]["sents"].append(re.sub(r"\[(?:PER|ORG|LOC|MISC) ([^\]]+)\]", r"\1", line))
    return [{"id": d["id"], "text": "\n".join(d["sents"]), "gold": d["gold"]} for d in docs]


def datasets(score, limit: int) -> dict[str, list[dict]]:
    return {
        "de": score.load(SHARED_ENTITIES / "germeval2014-dev.tsv", news_only=True)[: limit or None],
        "en": load_bracketed(EN_DATA)[: limit or None],
        "fr": load_bracketed(FR_DATA)[: limit or None],
        "es": load_bracketed(ES_DATA)[: limit or None],
    }


def evaluate(score, docs: list[dict], find) -> dict:
    return figures(score, count(score, docs, find))


def figures(score, counts: dict) -> dict:
    result = {t: score.prf(*c) for t, c in counts.items()}
    result["all"] = score.prf(*(sum(c[i] for c in counts.values()) for i in range(4)))
    return result


def count(score, docs: list[dict], find) -> dict:
    """Per type: [right predictions, predictions, gold found, gold]."""
    counts = {t: [0, 0, 0, 0] for t in TYPES}
    for d in docs:
        found = find(d["text"])
        for t, field in TYPES.items():
            pred = {e["name"] for e in found.get(field, [])}
            gold = {s for typ, s in d["gold"] if typ == t}
            c = counts[t]
            c[0] += sum(any(score.same(x, y) for y in gold) for x in pred)
            c[1] += len(pred)
            c[2] += sum(any(score.same(y, x) for x in pred) for y in gold)
            c[3] += len(gold)
    return counts


def errors(score, docs: list[dict], find) -> dict:
    """Per type: gold names missed outright or found with another type, and predictions that
    name nothing of this type in the gold (spurious, or of another gold type)."""
    kinds = ("missed", "other_type_found", "spurious", "gold_has_other_type")
    result = {t: {k: [] for k in kinds} for t in TYPES}
    for d in docs:
        found = find(d["text"])
        pred = {(t, e["name"]) for t, field in TYPES.items() for e in found.get(field, [])}
        for t, name in sorted(pred):
            if not any(score.same(name, g) for typ, g in d["gold"] if typ == t):
                other = any(score.same(name, g) for typ, g in d["gold"] if typ != t)
                result[t]["gold_has_other_type" if other else "spurious"].append(name)
        for t, name in sorted(d["gold"]):
            if not any(score.same(name, p) for typ, p in pred if typ == t):
                other = any(score.same(name, p) for typ, p in pred if typ != t)
                result[t]["other_type_found" if other else "missed"].append(name)
    return {t: {k: {"count": len(v), "names": v} for k, v in ks.items()} for t, ks in result.items()}


def entry_gains(score, docs: list[dict], lang: str, extract_entities) -> dict:
    """What each gazetteer entry buys: the documents it matches scored with and without it
    (the other documents don't change), as the F1 of the whole set with minus without."""
    from newsflow.enrich.gazetteer import _organisations, entry_names

    group_of, pattern = _organisations()
    full_counts = count(score, docs, lambda text: extract_entities(text, lang))
    full_f1 = figures(score, full_counts)["all"]["F1"]
    gains = {}
    for name in entry_names():
        group = group_of[name]
        hit = [d for d in docs if any(group_of[m.group("n")] == group for m in pattern.finditer(d["text"]))]
        if not hit:
            continue
        with_it = count(score, hit, lambda text: extract_entities(text, lang))
        without = count(score, hit, lambda text: extract_entities(text, lang, ablate=frozenset({f"gazetteer:{name}"})))
        counts = {t: [full_counts[t][i] - with_it[t][i] + without[t][i] for i in range(4)] for t in TYPES}
        gains[name] = {"documents": len(hit), "gain_F1": round(full_f1 - figures(score, counts)["all"]["F1"], 4)}
    return gains


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", default="de,en,fr,es")
    ap.add_argument("--limit", type=int, default=0, help="first N documents per language")
    ap.add_argument("--ablate", action="store_true", help="measure each rule, list and step")
    ap.add_argument("--errors", help="write the error analysis (JSON) here")
    ap.add_argument("--off", default="", help="rules or steps to leave out of every run, comma-separated "
                    "(e.g. titles,es.honorific: the figures before them)")
    ap.add_argument("--out", help="write the JSON result here")
    ap.add_argument("--properties", default="{}", help="JSON: language -> CoreNLP properties to override")
    a = ap.parse_args()

    sys.path.insert(0, str(REPO))
    from newsflow.enrich import corenlp
    from newsflow.enrich.entities import extract_entities
    from newsflow.enrich.entity_rules import rule_names

    for lang, overrides in json.loads(a.properties).items():
        corenlp.PROPERTIES[lang] = {**corenlp.PROPERTIES[lang], **overrides}
    # Ablations ask the same texts again: one CoreNLP answer per text is enough.
    corenlp.recognise = functools.lru_cache(maxsize=None)(corenlp.recognise)
    score = _scorer()
    data = datasets(score, a.limit)
    result = {
        "command": "bench/entities_bench.py " + " ".join(sys.argv[1:]),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "data": {
            "de": "GermEval 2014 dev, news documents (CC BY 4.0)",
            "en": "Universal NER v1 English-PUD, first 68 news documents (CC BY-SA 4.0)",
            "fr": "Sequoia (PARSEME-FR NE), L'Est Republicain sentences of the UD dev split, 48 documents (LGPL-LR)",
            "es": "Europarl NER evaluation corpus (IXA), first 157 Spanish sentences, 40 documents (CC BY-SA 4.0)",
        },
        "languages": {},
    }
    error_report = {k: result[k] for k in ("command", "date", "machine", "data")}
    left_out = frozenset(filter(None, a.off.split(",")))
    for lang in a.lang.split(","):
        docs = data[lang]
        started = time.perf_counter()
        full = evaluate(score, docs, lambda text: extract_entities(text, lang, ablate=left_out))
        seconds = time.perf_counter() - started
        entry = {"documents": len(docs), "gold": full["all"]["gold"], "seconds": round(seconds, 1),
                 "sentences_per_document": round(sum(d["text"].count("\n") + 1 for d in docs) / len(docs), 2), **full}
        print(f"{lang}: F1={full['all']['F1']} P={full['all']['P']} R={full['all']['R']} "
              + " ".join(f"{t}={full[t]['F1']}" for t in TYPES) + f" ({len(docs)} documents, {seconds:.1f} s)", flush=True)
        if a.ablate:
            gains = {}
            for name in STEPS + LANGUAGE_STEPS.get(lang, []) + rule_names(lang):
                off = evaluate(score, docs, lambda text, n=name: extract_entities(text, lang, ablate=frozenset({n})))
                gains[name] = {"gain_F1": round(full["all"]["F1"] - off["all"]["F1"], 3),
                               "gain_P": round(full["all"]["P"] - off["all"]["P"], 3),
                               "gain_R": round(full["all"]["R"] - off["all"]["R"], 3),
                               "F1_without": off["all"]["F1"]}
                print(f"  without {name:24s} F1={off['all']['F1']}  gain {gains[name]['gain_F1']:+.3f}", flush=True)
            entry["ablation"] = gains
            entry["gazetteer_entries"] = entry_gains(score, docs, lang, extract_entities)
            print("  gazetteer entries met: " + ", ".join(f"{k} {v['gain_F1']:+.4f}" for k, v in entry["gazetteer_entries"].items()), flush=True)
        result["languages"][lang] = entry
        if a.errors:
            error_report.setdefault("languages", {})[lang] = errors(score, docs, lambda text: extract_entities(text, lang))
    if a.errors:
        for lang, by_type in error_report["languages"].items():
            print(f"{lang} errors: " + "; ".join(f"{t} " + ", ".join(f"{k} {v['count']}" for k, v in kinds.items())
                                                for t, kinds in by_type.items()))
        Path(a.errors).write_text(json.dumps(error_report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
