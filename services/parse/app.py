"""The parse service: news.raw -> parse() -> news.parsed (or news.dlq)."""

from ..core.app import create_app, run_worker
from ..core.stage import attach_stage
from . import WEB_PORT_OFFSET
from .stage import SERVICE, stage_spec

app = create_app(SERVICE, WEB_PORT_OFFSET)
attach_stage(app, stage_spec())


def main() -> None:
    run_worker(app)
