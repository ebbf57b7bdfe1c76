# What the stage owns: its input topic and the offset of its health/metrics port.
INPUT_TOPICS = ("news.raw",)
WEB_PORT_OFFSET = 2
