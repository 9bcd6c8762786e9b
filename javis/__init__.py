"""javis: grow your own assistant model, version by version."""

__version__ = "0.1.0"
