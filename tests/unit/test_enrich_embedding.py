"""The numpy MiniLM embedding against a published reference figure of all-MiniLM-L6-v2, and
the multilingual E5 embedding across languages."""

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


@pytest.mark.parametrize("query, expected", [
    ("énergie éolienne en Allemagne", "de-wind"),         # French query, German article
    ("Bahnstreik in Frankreich", "fr-greve"),              # German query, French article
    ("Zinserhöhung der Notenbank", "en-rates"),            # German query, English article
    ("football cup final Madrid", "es-futbol"),           # English query, Spanish article
    ("wind power expansion law", "de-wind"),              # English query, German article
])
def test_a_query_finds_the_article_in_another_language(query, expected):
    assert _ranking(query)[0] == expected


def test_multilingual_embedding_is_normalised_and_chosen_by_its_setting(monkeypatch):
    vector = np.asarray(embed(ARTICLES["de-wind"], E5))
    assert len(vector) == DIMENSION and abs(np.linalg.norm(vector) - 1) < 1e-3
    monkeypatch.setenv("NEWSFLOW_EMBEDDING_MODEL", E5)
    assert "multilingual-e5-small" in model_name()
    # a query and an article are embedded differently ("query: " / "passage: ")
    assert embed_query("Windkraft") != embed("Windkraft")


def test_an_unknown_model_is_a_clear_error():
    with pytest.raises(EmbeddingUnavailable, match="unknown embedding model"):
        embed("text", "word2vec")
