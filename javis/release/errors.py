"""The release layer's errors: library code raises these, `javis` and the stages turn them into an
exit with the message (docs/DESIGN.md, "Versions")."""

from __future__ import annotations


class ReleaseError(RuntimeError):
    """A step of release/deploy (or a git or DVC command) failed; the message names the step and
    what to do."""


class ReleaseFetchError(ReleaseError):
    """A release's files could not be read; the message says which and what to do."""
