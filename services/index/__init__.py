# What the stage owns: its input topic and the offset of its health/metrics port.
INPUT_TOPICS = ("news.enriched",)
WEB_PORT_OFFSET = 4
