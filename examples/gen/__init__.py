"""Hand-written content tables for the bundled sample data (see ../make_examples.py)."""
