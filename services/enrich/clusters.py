"""Near-duplicate clusters across the whole stream: MinHash signatures, LSH bands, and the
assignment of an article to a cluster given a key-value store of what came before.

    signature(text) -> 128 MinHash values of the text's word 5-shingles
    band_keys(signature) -> 16 keys; two texts share one with probability ~1 at Jaccard
        0.9, ~0.5 near Jaccard 0.7 and ~0 below 0.5 (16 bands x 8 rows)
    assign(store, article_id, link_id, bands) -> cluster id, recording the article in store

The pure stage (enrich()) computes the signature and the article's link to an original
(parse's original_url); the enrich service runs assign() against a changelogged faust table
(see services/enrich/app.py). A cluster's id is the article id of its first known member,
or of the original an article names as its source: B naming A as original gets A's id as
cluster whichever of the two arrives first, and A, arriving later, finds its own id there.

MinHash in numpy rather than datasketch: the same algorithm (32-bit shingle hashes permuted
by (a*x+b) mod 2^61-1), without datasketch's scipy dependency, and stable across versions,
which matters because the bands are stored and compared across the stream's history.
"""

from __future__ import annotations

import hashlib
from typing import MutableMapping

import numpy as np
import regex

from ..core.envelope import epoch_seconds

NUM_PERM = 128
BANDS = 16
ROWS = NUM_PERM // BANDS
SHINGLE_WORDS = 5
# Below this many words a text has too few shingles for a meaningful signature.
MIN_WORDS = 20
_PRIME = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64((1 << 32) - 1)
# Fixed seed: signatures must be comparable between processes, versions and replays.
_rng = np.random.RandomState(1)
_A = _rng.randint(1, (1 << 29), size=NUM_PERM, dtype=np.uint64)  # keeps a*x below 2^61
_B = _rng.randint(0, (1 << 29), size=NUM_PERM, dtype=np.uint64)
_WORD = regex.compile(r"[\p{L}\p{N}]+")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


def signature(text: str) -> list[int] | None:
    """MinHash of the text's word shingles; None for texts too short to compare."""
    tokens = words(text)
    if len(tokens) < MIN_WORDS:
        return None
    shingles = {" ".join(tokens[i : i + SHINGLE_WORDS]) for i in range(len(tokens) - SHINGLE_WORDS + 1)}
    hashes = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=4).digest(), "little") for s in shingles),
        dtype=np.uint64, count=len(shingles),
    )
    permuted = ((hashes[:, None] * _A[None, :] + _B[None, :]) % _PRIME) & _MAX32
    return permuted.min(axis=0).astype(np.int64).tolist()


def similarity(a: list[int], b: list[int]) -> float:
    """Estimated Jaccard similarity of two signatures' shingle sets."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


def band_keys(sig: list[int]) -> list[str]:
    """One key per band: the band's index and a hash of its rows."""
    keys = []
    for band in range(BANDS):
        rows = sig[band * ROWS : (band + 1) * ROWS]
        digest = hashlib.blake2b(",".join(map(str, rows)).encode(), digest_size=8).hexdigest()
        keys.append(f"b{band}:{digest}")
    return keys


def assign(store: MutableMapping, article_id: str, link_id: str | None, bands: list[str]) -> str:
    """The article's cluster id, recorded in `store` (band key -> cluster id, "a:<article id>"
    -> cluster id). Idempotent: a redelivered or replayed article keeps its cluster."""
    own = f"a:{article_id}"
    cluster = store.get(own)
    if cluster is None and link_id:
        # The original's cluster if it is known; else the original's id, which the original
        # itself will find under its own key when it arrives.
        cluster = store.get(f"a:{link_id}") or link_id
    if cluster is None:
        cluster = next((store[key] for key in bands if store.get(key) is not None), None)
    if cluster is None:
        cluster = article_id
    if store.get(own) != cluster:
        store[own] = cluster
    if link_id and store.get(f"a:{link_id}") is None:
        store[f"a:{link_id}"] = cluster
    for key in bands:  # the first cluster to claim a band keeps it
        if store.get(key) is None:
            store[key] = cluster
    return cluster


def settle(enriched: dict, store: MutableMapping) -> dict:
    """The enriched event with its stream-wide cluster id, from its provisional one and the
    signature bands enrich() put in enrichment.duplicates; records it in `store`."""
    enrichment = enriched["payload"]["enrichment"]
    duplicates = enrichment.get("duplicates") or {}
    enrichment["cluster_id"] = assign(store, enriched["id"], duplicates.get("original_id"), duplicates.get("bands") or [])
    return enriched


# --- Bounded state: claims with a look-back window ---------------------------------------
#
# The store assign() works on is rebuilt for each article from *claims*: what earlier articles
# recorded, one claim document per article (or per revision that claimed something new):
#     {"article": id, "cluster": cluster id, "claims": [keys newly set], "at": article time, "seq": order}
# A key's value is that of its earliest claim (by seq: the order the clustering agent settled
# them), exactly the "first writer keeps it" rule of assign(), so the same stream gives the
# same clusters as one ever-growing table, but only claims made by articles fetched within
# NEWSFLOW_NEAR_DUPLICATE_WINDOW of the article count. The window is measured in the
# articles' own fetch times, not the wall clock, so a replay decides as the first pass did
# (while the claims are kept: older ones are swept). Kept in Elasticsearch by the service
# (cluster_state.py); in memory (MemoryClusters) by newsflow reindex and the tests.


def article_time(enriched: dict) -> float:
    """The article's fetch time in epoch seconds (0.0 when it has none that parses)."""
    payload = enriched.get("payload") or {}
    for value in (payload.get("fetched_at"), enriched.get("produced_at")):
        if (seconds := epoch_seconds(value)) is not None:
            return seconds
    return 0.0


def lookup_keys(enriched: dict) -> list[str]:
    """The keys assign() reads for this article: its own, its original's, its bands."""
    duplicates = enriched["payload"]["enrichment"].get("duplicates") or {}
    keys = [f"a:{enriched['id']}"]
    if duplicates.get("original_id"):
        keys.append(f"a:{duplicates['original_id']}")
    return keys + list(duplicates.get("bands") or [])


def in_window(claim: dict, at: float, window_s: float) -> bool:
    """A claim counts for an article fetched at `at` if it was made by an article fetched at
    most `window_s` before (later ones always count: a late article sees what came since)."""
    return window_s <= 0 or float(claim["at"]) >= at - window_s


def claims_view(claims: list[dict]) -> dict[str, str]:
    """key -> cluster id as assign() would find it: the earliest claim of each key wins."""
    view: dict[str, str] = {}
    for claim in sorted(claims, key=lambda c: (c["seq"], c["article"])):
        for key in claim["claims"]:
            view.setdefault(key, claim["cluster"])
    return view


def decide(enriched: dict, claims: list[dict], window_s: float, seq: int) -> tuple[dict, dict | None]:
    """Pure: the enriched event with its cluster id, given the earlier claims on its lookup
    keys, and the claim it makes (None when it sets nothing new: a redelivery or replay)."""
    at = article_time(enriched)
    view = claims_view([c for c in claims if in_window(c, at, window_s)])
    before = set(view)
    settled = settle(enriched, view)
    new = [key for key in view if key not in before]
    if not new:
        return settled, None
    cluster = settled["payload"]["enrichment"]["cluster_id"]
    return settled, {"article": enriched["id"], "cluster": cluster, "claims": new, "at": at, "seq": seq}


class MemoryClusters:
    """The claims in memory, indexed by key: `newsflow reindex` settles a topic's history with
    it as the service does, window included. `prune(before)` drops claims made by articles
    fetched before that time."""

    def __init__(self, window_s: float):
        self.window_s = window_s
        self.by_key: dict[str, list[dict]] = {}
        self.seq = 0

    def settle(self, enriched: dict) -> dict:
        found = {id(c): c for key in lookup_keys(enriched) for c in self.by_key.get(key, ())}
        self.seq += 1
        settled, claim = decide(enriched, list(found.values()), self.window_s, self.seq)
        if claim:
            for key in claim["claims"]:
                self.by_key.setdefault(key, []).append(claim)
        return settled

    def prune(self, before: float) -> None:
        for key in list(self.by_key):
            kept = [c for c in self.by_key[key] if c["at"] >= before]
            if kept:
                self.by_key[key] = kept
            else:
                del self.by_key[key]
