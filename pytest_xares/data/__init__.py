"""Task data, from a Zenodo record to decoded audio: ``zenodo`` fetches a record, ``records``
reads its kept metadata, ``fetch`` finds or fetches (or verifies) a task's folder, ``prepare``
hands the engine each split's shards, ``shards`` reads and writes WebDataset tars, ``audio``
decodes, down-mixes, resamples and crops."""
