"""javis: grow your own assistant model, version by version (docs/DESIGN.md: the layers)."""
