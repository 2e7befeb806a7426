"""Results of a run: ``scores`` holds one ``TaskResult`` per task and method, the weighted
averages and the run's ``Results``; ``references`` the published baseline scores; ``baseline``
the gate against a committed baseline file; ``table`` the results as text and Markdown."""
