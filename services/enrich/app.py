"""The enrich service: news.parsed -> enrich() -> news.enrich.clustering -> cluster -> news.enriched
(or news.dlq).

Two agents, because the near-duplicate state is keyed differently from the stream:

1. `newsflow.enrich` (the shared stage shell, any number of partitions and workers) runs the
   pure enrich(): language, entities, ..., the MinHash bands and the original-URL link.
2. `newsflow.enrich.clusters` reads the single-partition topic news.enrich.clustering and
   settles each article's cluster against the `clusters` table (LSH band -> cluster id,
   article id -> cluster id), changelogged by faust to `<app id>-clusters-changelog`.

A faust table is only consistent when the stream that updates it is partitioned like the
table; a band key can belong to any article, so one partition holding the whole table is
the simple correct choice: one worker at a time owns it (faust moves it on rebalance and
restores it from the changelog), and a few dictionary look-ups per article keep that one
agent far faster than the enrich() agents feeding it. Replays (newsflow replay --topic
news.parsed) write to news.enrich.clustering too, so their articles are clustered the same way.
"""

from ..core.app import create_app, run_worker
from ..core.settings import get_settings
from ..core.stage import StageSpec, attach_stage
from . import CLUSTERING_TOPIC, CLUSTERS_AGENT, WEB_PORT_OFFSET
from .clusters import settle
from .stage import OUTPUT_SCHEMA, SERVICE, stage_spec

settings = get_settings()
app = create_app(SERVICE, WEB_PORT_OFFSET, settings)
attach_stage(app, stage_spec(), settings)

clusters_table = app.Table(
    # Keys and values are strings; with no key/value type faust (de)serialises them as JSON.
    "clusters", partitions=1,
    help="near-duplicate clusters: LSH band or article id -> cluster id",
)


async def _settle(event: dict) -> dict:
    settled = settle(event, clusters_table)
    # The table's changelog writes are buffered by faust; they are acknowledged before the
    # output, so a crash cannot leave an article out (committed) but its bands unrecorded.
    await app.producer.flush()
    return settled


# The second agent, through the same shell; its own stage name, so its events are counted apart.
attach_stage(app, StageSpec(
    name=CLUSTERS_AGENT, input_topic=CLUSTERING_TOPIC, input_schema=OUTPUT_SCHEMA,
    output_topic="news.enriched", output_schema=OUTPUT_SCHEMA, handle=_settle, is_async=True, time_limit_s=30.0,
), settings, partitions=1)


def main() -> None:
    run_worker(app, settings)
