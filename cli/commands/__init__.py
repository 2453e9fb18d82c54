"""One module per command: its arguments, what it runs in ``core``, and its results as a view."""
