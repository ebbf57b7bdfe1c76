"""The parse service: news.raw -> parse() -> news.parsed (or news.dlq)."""

from ..core.app import create_app, run_worker
from ..core.stage import StageSpec, attach_stage
from .stage import INPUT_SCHEMA, OUTPUT_SCHEMA, SERVICE, parse

app = create_app(SERVICE)
attach_stage(app, StageSpec(
    name=SERVICE, input_topic="news.raw", input_schema=INPUT_SCHEMA,
    output_topic="news.parsed", output_schema=OUTPUT_SCHEMA, handle=parse, time_limit_s=30.0,
))


def main() -> None:
    run_worker(app)
