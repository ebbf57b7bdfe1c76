"""The enrich stage: language, entities, money, dates, keywords, topic, near-duplicates, embedding."""

import os

# One article is enriched by one thread; throughput comes from more workers. OpenBLAS's own
# threads only fight over the cores then (5x slower embeddings measured on 2 busy cores), and
# its thread count is read once, when numpy first loads: so this is set before any module of
# the package imports numpy. An explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The enrich service's own single-partition topic between enrich() and the near-duplicate clustering
# (see app.py); the stage's output goes there and on to news.enriched once clustered.
CLUSTERING_TOPIC = "news.enrich.clustering"
# The clustering agent's stage name (metrics, logs, dead letters).
CLUSTERS_AGENT = "enrich-clusters"
# What the stage owns: its input topics and the offset of its health/metrics port.
INPUT_TOPICS = ("news.parsed", CLUSTERING_TOPIC)
WEB_PORT_OFFSET = 3
