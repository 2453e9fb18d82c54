"""The Textual app (issue 3) lives here; it will call ``core`` from thread workers and never block on I/O."""
