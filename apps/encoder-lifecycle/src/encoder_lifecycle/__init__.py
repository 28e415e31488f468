"""encoder-lifecycle (work in progress)."""

__all__: list[str] = []
