"""The pipeline's stages as the command line, the tests and the benchmarks see them: each stage
package owns its input topics and its web port; this is where they are gathered."""

from __future__ import annotations

from . import enrich, fetch, index, parse

STAGES = {"fetch": fetch, "parse": parse, "enrich": enrich, "index": index}
# stage -> offset of its health/metrics port from NEWSFLOW_WEB_PORT_BASE
WEB_PORT_OFFSETS = {name: package.WEB_PORT_OFFSET for name, package in STAGES.items()}
# (stage, topic it consumes); a stage's consumer group is its faust app id
STAGE_INPUTS = tuple((name, topic) for name, package in STAGES.items() for topic in package.INPUT_TOPICS)
# stage name in a dead letter -> the topics that stage's agent reads (the first is its main one)
DEAD_LETTER_INPUTS = {**{name: package.INPUT_TOPICS for name, package in STAGES.items()},
                      enrich.CLUSTERS_AGENT: (enrich.CLUSTERING_TOPIC,),
                      "index": index.INPUT_TOPICS[:1], index.REMOVALS_AGENT: index.INPUT_TOPICS[1:]}
