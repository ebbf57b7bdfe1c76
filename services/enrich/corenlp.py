"""Named-entity mentions from the local Stanford CoreNLP server (started by infra/corenlp/corenlp.sh).

CoreNLP's CRF models are the only German NER models these machines can install (PyPI has no
German spaCy pipeline; its `de-core-news-*` names are placeholders). They run in the JVM
server, so every worker process shares one copy of the models.
"""

from __future__ import annotations

import json
import threading

import httpx

from .mention import LOC, MISC, ORG, PER, Mention

_NER_DIR = "edu/stanford/nlp/models/ner"
# Only what the CRF needs: neither model uses POS tags, so the tagger (and its requirement
# check) is skipped, as are the numeric, SUTime and fine-grained layers this stage doesn't use.
_COMMON = {
    "annotators": "tokenize,ssplit,ner",
    "enforceRequirements": "false",
    "ner.applyNumericClassifiers": "false",
    "ner.applyFineGrained": "false",
    "ner.useSUTime": "false",
    "ner.buildEntityMentions": "true",
    "outputFormat": "json",
    # The same JSON without indentation: half the bytes, and 10-20% less server CPU per article.
    "output.prettyPrint": "false",
}
# Mirrored in infra/corenlp/corenlp.sh (warm-up), which must name the same model files.
PROPERTIES = {
    "de": {
        **_COMMON,
        "annotators": "tokenize,ssplit,mwt,ner",
        "tokenize.language": "de",
        "tokenize.postProcessor": "edu.stanford.nlp.international.german.process.GermanTokenizerPostProcessor",
        "mwt.mappingFile": "edu/stanford/nlp/models/mwt/german/german-mwt.tsv",
        "ner.model": f"{_NER_DIR}/german.distsim.crf.ser.gz",
    },
    "en": {
        **_COMMON,
        "tokenize.language": "en",
        "ner.model": f"{_NER_DIR}/english.conll.4class.distsim.crf.ser.gz",
    },
}
SUPPORTED_LANGUAGES = frozenset(PROPERTIES)
# The server refuses longer texts (its maxCharLength); past this an article's names are
# almost all known already, so the rest is not sent.
MAX_CHARS = 100_000
_LABELS = {"PERSON": PER, "ORGANIZATION": ORG, "LOCATION": LOC, "MISC": MISC}


class CoreNLPError(RuntimeError):
    """The server is unreachable or refused the text; the caller records the reason."""


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
            _client = httpx.Client(timeout=httpx.Timeout(30.0, connect=3.0))
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
    except httpx.HTTPError as exc:
        raise CoreNLPError(f"CoreNLP server at {server_url()} not reachable: {exc}") from exc
    if response.status_code != 200:
        raise CoreNLPError(f"CoreNLP server answered {response.status_code}: {response.text[:300]}")
    return list(_mentions(response.json(), text))


def _mentions(doc: dict, text: str):
    to_index = _utf16_index(text)
    for sentence in doc.get("sentences", []):
        for m in sentence.get("entitymentions", []):
            label = _LABELS.get(m.get("ner"))
            if label is None:
                continue
            start, end = to_index(m["characterOffsetBegin"]), to_index(m["characterOffsetEnd"])
            yield Mention(text[start:end], label, start, end, "model")


def _utf16_index(text: str):
    """Java counts offsets in UTF-16 units: text beyond the BMP (emoji) shifts them."""
    if all(ord(c) <= 0xFFFF for c in text):
        return lambda offset: offset
    positions = []
    for i, c in enumerate(text):
        positions.extend([i] * (2 if ord(c) > 0xFFFF else 1))
    positions.append(len(text))
    return lambda offset: positions[min(offset, len(positions) - 1)]
