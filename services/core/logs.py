"""Structured JSON logs for every service. Each line of an article's journey carries its
`article_id` and `trace_id`: bind them with `bound_logger(...)` or `structlog.contextvars`."""

from __future__ import annotations

import logging
import logging.config
import sys

import structlog

_SHARED_PROCESSORS = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.processors.StackInfoRenderer(),
    structlog.processors.format_exc_info,
]


def logging_config(level: str = "info", service: str = "newsflow") -> dict:
    """A stdlib dictConfig that renders every record (ours, faust's, aiokafka's) as one JSON line."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    _add_service(service),
                    structlog.processors.JSONRenderer(),
                ],
                "foreign_pre_chain": _SHARED_PROCESSORS,
            }
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": sys.stderr}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        # Chatty third-party loggers stay at warning unless asked for debug.
        "loggers": {
            name: {"level": "DEBUG" if level.lower() == "debug" else "WARNING"}
            for name in ("aiokafka", "kafka", "elastic_transport", "httpx", "httpcore", "trafilatura", "htmldate", "faust.transport", "mode")
        },
    }


def _add_service(service: str):
    def processor(_, __, event_dict):
        event_dict.setdefault("service", service)
        return event_dict

    return processor


def configure_logging(level: str = "info", service: str = "newsflow") -> None:
    logging.config.dictConfig(logging_config(level, service))
    structlog.configure(
        processors=[*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def get_logger(name: str = "newsflow"):
    return structlog.get_logger(name)
