"""The engine: ``evaluate`` takes one task and method from data through cached embeddings to a
(cached) score; ``runtime`` holds a process's encoder and its check verdicts; ``policy`` says how
an item runs or why it does not; ``progress`` shows long work."""
