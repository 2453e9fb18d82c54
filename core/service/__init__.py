"""The download service: one process per workspace root that runs downloads detached from any terminal, with
the CLI (and, next, the app) as its clients over a Unix socket (``protocol``, ``server``, ``client``)."""
