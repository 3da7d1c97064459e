"""The one palette: the colour of each asset status and check outcome, and the neutral tones.

The magics' tables, the check reports, the build preview's badges and the lineage SVG take
their colours from here. The Assets panel's CSS (``labextension/style/index.css``) uses
JupyterLab's theme variables, with these colours as their fallbacks;
``tests/render/test_palette.py`` holds the two together.
"""

from __future__ import annotations

from ..status import CHECK_FAILED, CORRUPT, FAILED, FRESH, MISSING, ORPHANED, STALE

GREEN, AMBER, GREY, RED = "#1a7f37", "#9a6700", "#57606a", "#cf222e"
DARK_RED = "#82071e"  # corrupt: worse than failed
PURPLE = "#8250df"  # orphaned: apart from the project's assets, neither good nor broken

TEXT = "#1f2328"  # text on a light background
MUTED = GREY  # secondary text
LINE = "#8c959f"  # edges, arrows, the border of an unknown status
BACKGROUND = "#ffffff"

STATUS_COLOURS: dict[str, str] = {  # text and borders
    FRESH: GREEN,
    STALE: AMBER,
    MISSING: GREY,
    FAILED: RED,
    CHECK_FAILED: RED,
    CORRUPT: DARK_RED,
    ORPHANED: PURPLE,
}
STATUS_FILLS: dict[str, str] = {  # the inside of a lineage node
    FRESH: "#dafbe1",
    STALE: "#fff8c5",
    MISSING: "#f6f8fa",
    FAILED: "#ffebe9",
    CHECK_FAILED: BACKGROUND,  # drawn with a dashed red border instead
    CORRUPT: "#ffcecb",
    ORPHANED: "#fbefff",
}

OUTCOME_COLOURS: dict[str, str] = {"pass": GREEN, "warn": AMBER, "fail": RED, "error": RED}
OUTCOME_BADGES: dict[str, tuple[str, str]] = {  # (background, border): translucent on any theme
    "pass": ("rgba(45,164,78,.18)", "rgba(45,164,78,.6)"),
    "fail": ("rgba(207,34,46,.2)", "rgba(207,34,46,.7)"),
    "warn": ("rgba(212,167,44,.22)", "rgba(212,167,44,.75)"),
    "error": ("transparent", "rgb(207,34,46)"),
}


def status_colour(status: str) -> str:
    """The colour of ``status``; ``inherit`` for a status the palette does not know."""
    return STATUS_COLOURS.get(status, "inherit")
