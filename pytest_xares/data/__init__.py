"""Task data: reading shards, decoding audio, synthesising the demo suite."""
