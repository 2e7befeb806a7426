"""The ``xares`` command: ``compare`` (results of several encoders side by side), ``tasks`` (the
suite's tasks and their data) and ``cache`` (what the cache holds, and pruning it); ``main`` in
``main``. It reads results files, task definitions and the cache; it never runs an encoder."""
