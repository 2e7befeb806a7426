"""The demo suite: small synthetic tasks whose shards are synthesised on first use, no download needed."""
