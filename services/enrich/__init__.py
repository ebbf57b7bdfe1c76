"""The enrich stage: language, entities, money, dates, keywords, topic, near-duplicates, embedding."""

import os

# One article is enriched by one thread; throughput comes from more workers. OpenBLAS's own
# threads only fight over the cores then (5x slower embeddings measured on 2 busy cores), and
# its thread count is read once, when numpy first loads: so this is set before any module of
# the package imports numpy. An explicit setting in the environment wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
