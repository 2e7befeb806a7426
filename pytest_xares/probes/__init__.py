"""Heads trained on frozen embeddings: the linear ("MLP") probe and kNN."""
