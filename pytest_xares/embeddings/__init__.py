"""Embeddings, from shards to the cache: ``encode`` runs the frozen encoder over decoded clips,
``sets`` holds a split's pooled or frame embeddings, ``store`` keeps them in the cache and owns the
entry's format."""
