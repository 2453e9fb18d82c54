"""The Textual app: a thin face on ``core`` (``tui.app.make_app`` is its one factory)."""
