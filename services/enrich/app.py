"""The enrich service: news.parsed -> enrich() -> news.enriched (or news.dlq)."""

from ..core.app import create_app, run_worker
from ..core.stage import attach_stage
from .stage import SERVICE, stage_spec

app = create_app(SERVICE)
attach_stage(app, stage_spec())


def main() -> None:
    run_worker(app)
