"""newsflow: fetch, parse, enrich and index services passing article events over Kafka."""

__version__ = "0.1.0"
