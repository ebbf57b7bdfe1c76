# What the stage owns: its input topics (articles, and the takedowns its second agent marks)
# and the offset of its health/metrics port.
INPUT_TOPICS = ("news.enriched", "news.removed")
REMOVALS_AGENT = "index-removals"
WEB_PORT_OFFSET = 4
