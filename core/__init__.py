"""The engine of musicgen-tui, free of any UI (it never imports Textual or Rich).

- ``core.hub``: the network. The only code that imports huggingface_hub or its HTTP client: listing,
  planning against the Hub, downloading, what an error means.
- ``core.local``: the disk. Folder layout and records, walking, inventories, hashing, checksums, verify, the lock.
- beside them, plain shared pieces: the catalog, repo references, listings and plans as data, profiles and
  globs, settings, sizes, and the states everything can be in (``core.states``).

``core.local`` never imports ``core.hub``; the contracts in ``pyproject.toml`` hold the layers to this.
"""
