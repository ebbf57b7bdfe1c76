"""Named-entity mentions from the local Stanford CoreNLP server (started by infra/corenlp/corenlp.sh).

CoreNLP's CRF models are the only German NER models these machines can install (PyPI has no
German spaCy pipeline; its `de-core-news-*` names are placeholders). They run in the JVM
server, so every worker process shares one copy of the models: German, English, French and
Spanish (infra/corenlp/pom.xml names the files).
"""

from __future__ import annotations

import json
import threading

import httpx

from ..core.outage import DependencyUnavailable

from .mention import LOC, MISC, ORG, PER, Mention

_NER_DIR = "edu/stanford/nlp/models/ner"
# Only what the CRF needs: neither model uses POS tags, so the tagger (and its requirement
# check) is skipped, as are the numeric, SUTime and fine-grained layers this stage doesn't use.
# The answer is CoNLL, one line per token with only its NER tag, end offset and original text:
# CoreNLP's JSON writes a dozen fields for every token (about 120 kB per article), which cost
# the server a quarter of its CPU per article; this is 20x smaller and says the same
# (mentions() builds CoreNLP's entity mentions from it; README, "Enrichment").
_COMMON = {
    "annotators": "tokenize,ssplit,ner",
    "enforceRequirements": "false",
    "ner.applyNumericClassifiers": "false",
    "ner.applyFineGrained": "false",
    "ner.useSUTime": "false",
    "ner.buildEntityMentions": "false",
    "outputFormat": "conll",
    # Tab-separated, one token a line, a blank line after each sentence (pretty-printing off
    # would put a sentence on one line with "/" between fields, which tokens may contain).
    "output.columns": "ner,endPosition,current",
}
# Mirrored in infra/corenlp/corenlp.sh (warm-up), which must name the same model files and NER
# settings (ner.* is part of the key under which the server keeps a loaded model).
PROPERTIES = {
    "de": {
        **_COMMON,
        "annotators": "tokenize,ssplit,mwt,ner",
        "tokenize.language": "de",
        "tokenize.postProcessor": "edu.stanford.nlp.international.german.process.GermanTokenizerPostProcessor",
        "mwt.mappingFile": "edu/stanford/nlp/models/mwt/german/german-mwt.tsv",
        "ner.model": f"{_NER_DIR}/german.distsim.crf.ser.gz",
    },
    # CoreNLP's default English model (CoNLL, MUC, ACE and more news): F1 0.829 against 0.746
    # for the CoNLL 4-class model on the English development set (bench/entities_bench.py).
    # The MUC 7-class model typing what this one leaves untyped (ner.combinationMode
    # HIGH_RECALL) gains en F1 0.014 but costs 1.84x the CPU of extract_entities per article, over
    # enrich's cost budget: not taken (README, "Entities").
    "en": {
        **_COMMON,
        "tokenize.language": "en",
        "ner.model": f"{_NER_DIR}/english.all.3class.distsim.crf.ser.gz",
    },
    # French (WikiNER) and Spanish (AnCora) CRFs from CoreNLP's model jars; without the
    # multi-word-token step, which French needs a POS tagger for.
    "fr": {
        **_COMMON,
        "tokenize.language": "fr",
        "ner.model": f"{_NER_DIR}/french-wikiner-4class.crf.ser.gz",
    },
    "es": {
        **_COMMON,
        "tokenize.language": "es",
        "ner.model": f"{_NER_DIR}/spanish.ancora.distsim.s512.crf.ser.gz",
    },
}
SUPPORTED_LANGUAGES = frozenset(PROPERTIES)
# The server refuses longer texts (its maxCharLength); past this an article's names are
# almost all known already, so the rest is not sent.
MAX_CHARS = 100_000
# The server gives up on one text after 30 s (corenlp.sh: -timeout 30000) and says so with a
# 500: the text's fault. Waiting longer than that for an answer means the server itself is
# stuck or still loading its models: an outage, which the stage waits out.
CLIENT_TIMEOUT_S = 40.0
# The French model speaks CoNLL's own tags, the others CoreNLP's long names.
_LABELS = {"PERSON": PER, "ORGANIZATION": ORG, "LOCATION": LOC, "MISC": MISC, "PER": PER, "ORG": ORG, "LOC": LOC}


class CoreNLPError(RuntimeError):
    """The server refused this text; the caller records the reason. (A server that cannot
    answer at all raises DependencyUnavailable: the shell waits for it, see core/outage.py.)"""


def server_url() -> str:
    # Read per call (not cached) so tests and the CLI can point it elsewhere by environment.
    from ..core.settings import Settings

    return Settings().corenlp_url


_client: httpx.Client | None = None
_client_lock = threading.Lock()


def _http() -> httpx.Client:
    # One pooled connection set per process, made on first use.
    global _client
    with _client_lock:
        if _client is None:
            _client = httpx.Client(timeout=httpx.Timeout(CLIENT_TIMEOUT_S, connect=3.0))
        return _client


def recognise(text: str, language: str) -> list[Mention]:
    """Mentions with character offsets into `text`; raises CoreNLPError, or ValueError for a language without a model."""
    if language not in PROPERTIES:
        raise ValueError(f"no NER model for language {language!r}")
    if not text.strip():
        return []
    try:
        response = _http().post(
            server_url() + "/",
            params={"properties": json.dumps(PROPERTIES[language])},
            content=text[:MAX_CHARS].encode("utf-8"),
        )
    except httpx.TransportError as exc:  # refused, reset, timed out: the server, not the text
        raise DependencyUnavailable("corenlp", f"server at {server_url()} not reachable: {type(exc).__name__}: {exc}") from exc
    if response.status_code == 503:  # overloaded (its queue is full)
        raise DependencyUnavailable("corenlp", f"server answered 503: {response.text[:300]}")
    if response.status_code != 200:
        raise CoreNLPError(f"CoreNLP server answered {response.status_code}: {response.text[:300]}")
    return list(mentions(response.text, text))


def mentions(conll: str, text: str):
    """CoreNLP's entity mentions from its CoNLL answer: within a sentence, each run of tokens
    with the same tag other than O (as its EntityMentionsAnnotator chunks them), with
    character offsets into `text`.

    A token's line gives its end offset (Java's UTF-16 units) and original text; its start is
    the end less that text's length, except for the pieces of a German contraction ("zum" ->
    "zu", "dem", both ending where "zum" ends), which start where the contraction does, i.e.
    at the first non-space after the previous token."""
    to_index = _utf16_index(text)
    run_label, run_start, run_end = None, 0, 0
    previous_end, previous_start = 0, 0
    for line in conll.split("\n"):  # not splitlines(): a token may hold \x1c, \u2028, ...
        if not line.strip():  # end of a sentence: no mention runs across one
            if run_label is not None:
                yield Mention(text[run_start:run_end], run_label, run_start, run_end, "model")
            run_label = None
            continue
        tag, end16, original = line.split("\t", 2)
        end = to_index(int(end16))
        start = end - len(original)
        if start < 0 or text[start:end] != original:
            if end == previous_end:  # a second piece of one contraction
                start = previous_start
            else:
                start = previous_end
                while start < end and text[start].isspace():
                    start += 1
        previous_start, previous_end = start, end
        # The French model's tags are IOB ("I-PER"); "B-" would open a new mention.
        begins = tag.startswith("B-")
        label = _LABELS.get(tag[2:] if tag[:2] in ("B-", "I-") else tag)
        if label is not None and label == run_label and not begins:
            run_end = end
            continue
        if run_label is not None:
            yield Mention(text[run_start:run_end], run_label, run_start, run_end, "model")
        run_label, run_start, run_end = label, start, end
    if run_label is not None:
        yield Mention(text[run_start:run_end], run_label, run_start, run_end, "model")


def _utf16_index(text: str):
    """Java counts offsets in UTF-16 units: text beyond the BMP (emoji) shifts them."""
    if all(ord(c) <= 0xFFFF for c in text):
        return lambda offset: offset
    positions = []
    for i, c in enumerate(text):
        positions.extend([i] * (2 if ord(c) > 0xFFFF else 1))
    positions.append(len(text))
    return lambda offset: positions[min(offset, len(positions) - 1)]
