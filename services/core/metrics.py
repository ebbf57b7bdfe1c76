"""Prometheus metrics shared by the stages, served on each service's /metrics."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_IN = Counter("newsflow_events_in_total", "Events read from the input topic", ["stage"])
EVENTS_OUT = Counter("newsflow_events_out_total", "Events written to the output (topic or index)", ["stage"])
DEAD_LETTERS = Counter("newsflow_dead_letters_total", "Inputs sent to news.dlq", ["stage", "error"])
PROCESS_SECONDS = Histogram(
    "newsflow_process_seconds", "Time to handle one input event", ["stage"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DEPENDENCY_WAITS = Counter("newsflow_dependency_waits_total",
                           "Attempts of an input put off because a server the stage needs was unavailable",
                           ["stage", "dependency"])
IN_FLIGHT = Gauge("newsflow_in_flight", "Input messages given to the stage and not yet finished", ["stage"])
