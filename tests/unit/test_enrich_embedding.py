"""The numpy MiniLM embedding against a published reference figure of all-MiniLM-L6-v2."""

from __future__ import annotations

import numpy as np

from newsflow.enrich.embedding import DIMENSION, _tokenizer, embed


def test_reference_similarity_of_the_model():
    # sentence-transformers' documentation gives 0.7553 for this pair with all-MiniLM-L6-v2:
    # a wrong tokenizer or layer would not land on it.
    a, b, c = (np.asarray(embed(s)) for s in ("A man is eating food.", "A man is eating a piece of bread.",
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
