"""Dead letters: list, count, show and redrive what landed on news.dlq (`newsflow dlq`)."""
