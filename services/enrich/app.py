"""The enrich service: news.parsed -> enrich() -> news.enriched (or news.dlq)."""

from ..core.app import create_app, run_worker
from ..core.stage import StageSpec, attach_stage
from .stage import INPUT_SCHEMA, OUTPUT_SCHEMA, SERVICE, enrich

app = create_app(SERVICE)
attach_stage(app, StageSpec(
    name=SERVICE, input_topic="news.parsed", input_schema=INPUT_SCHEMA,
    output_topic="news.enriched", output_schema=OUTPUT_SCHEMA, handle=enrich, time_limit_s=60.0,
))


def main() -> None:
    run_worker(app)
