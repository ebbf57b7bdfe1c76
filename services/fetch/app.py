"""The fetch service: news.fetch.requests -> fetch the page -> news.raw (or news.dlq)."""

from ..core.app import create_app, run_worker
from ..core.settings import get_settings
from ..core.stage import StageSpec, attach_stage
from .fetcher import INPUT_SCHEMA, OUTPUT_SCHEMA, SERVICE, make_handler

settings = get_settings()
app = create_app(SERVICE, settings)
attach_stage(app, StageSpec(
    name=SERVICE, input_topic="news.fetch.requests", input_schema=INPUT_SCHEMA,
    output_topic="news.raw", output_schema=OUTPUT_SCHEMA, handle=make_handler(settings),
    is_async=True, time_limit_s=settings.fetch_timeout_s * 3,
), settings)


def main() -> None:
    run_worker(app, settings)
