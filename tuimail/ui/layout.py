"""Layout figures shared by the screen and the code that runs before Textual is imported."""
from __future__ import annotations

CHROME_ROWS = 6  # title, folder title, the index's border, status line, footer
MIN_FIRST_ROWS = 10


def first_rows(height: int) -> int:
    """How many index rows a screen `height` lines tall shows: the folder's first fetch."""
    return max(height - CHROME_ROWS, MIN_FIRST_ROWS)
