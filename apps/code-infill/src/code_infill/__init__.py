"""code-infill (work in progress)."""

__all__: list[str] = []
