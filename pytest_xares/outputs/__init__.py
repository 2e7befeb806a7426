"""What a run leaves behind, one module per format: ``terminal`` (the summary at the end),
``markdown`` (a report file and the GitHub job summary), ``junit`` (test-report properties),
``plot`` (a PNG), ``merge`` (the ``xares-merge`` command); the results file is
``Results.to_json``. The plugin writes each through the ``pytest_xares_results`` hook, so a
conftest can add its own format."""
