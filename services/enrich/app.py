"""The enrich service: news.parsed -> enrich() -> news.enrich.clustering -> cluster -> news.enriched
(or news.dlq).

Two agents, because the near-duplicate state is keyed differently from the stream:

1. `newsflow.enrich` (the shared stage shell, any number of partitions and workers) runs the
   pure enrich(): language, entities, ..., the MinHash bands and the original-URL link.
2. `newsflow.enrich.clusters` reads the single-partition topic news.enrich.clustering and
   settles each article's cluster against the near-duplicate claims of the look-back window
   (LSH band or article id -> cluster id), kept in Elasticsearch (cluster_state.py).

A band key can belong to any article, so one agent settles every article, in order: the
clustering topic has a single partition, so one worker at a time owns it, and one search
and one write per batch of articles keep it far faster than the enrich() agents feeding it. The worker
holds none of the claims, so memory and start-up time do not grow with history. Replays (newsflow replay --topic
news.parsed) write to news.enrich.clustering too, so their articles are clustered the same way.
"""

import time

from ..core.app import create_app, run_worker
from ..core.logs import get_logger
from ..core.settings import get_settings
from ..core.stage import StageSpec, attach_stage
from . import CLUSTERING_TOPIC, CLUSTERS_AGENT, WEB_PORT_OFFSET, embedding
from .cluster_state import EsClusters
from .stage import OUTPUT_SCHEMA, SERVICE, stage_spec

settings = get_settings()
app = create_app(SERVICE, WEB_PORT_OFFSET, settings)
attach_stage(app, stage_spec(), settings)
if settings.enrich_embedding:  # loaded while the worker joins its group, not on the first articles' budget
    embedding.preload()

log = get_logger("newsflow.enrich.app")
# Written before the output is sent (Elasticsearch acknowledges a claim once it is in its
# translog), so a crash cannot leave an article out (committed) but its claim unrecorded.
clusters = EsClusters(settings)


@app.timer(max(1.0, settings.state_sweep_interval_s))
async def sweep_clusters() -> None:
    """Delete the claims older than the look-back window (idempotent: any instance may)."""
    try:
        await clusters.sweep(time.time())
    except Exception as exc:  # noqa: BLE001 - a failed sweep must not stop the worker; the next one tries again
        log.warning("near-duplicate sweep failed", error=type(exc).__name__, reason=str(exc)[:300])


# The second agent, through the same shell; its own stage name, so its events are counted apart.
attach_stage(app, StageSpec(
    name=CLUSTERS_AGENT, input_topic=CLUSTERING_TOPIC, input_schema=OUTPUT_SCHEMA,
    output_topic="news.enriched", output_schema=OUTPUT_SCHEMA, handle_events=clusters.settle_all, time_limit_s=60.0,
    batch_size=settings.enrich_cluster_batch_size, batch_seconds=settings.enrich_cluster_batch_seconds,
), settings, partitions=1)


def main() -> None:
    run_worker(app, settings)
