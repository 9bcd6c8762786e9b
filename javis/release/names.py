"""Version names: a release is a git tag `javis-v{major}.{minor}[-{tag}]` on the commit that holds
its release record (javis/release/record.py). See docs/DESIGN.md, "Versions"."""

from __future__ import annotations

import re
from dataclasses import dataclass

from javis.release import vcs
from javis.release.errors import ReleaseError

PREFIX = "javis-v"
NAME = re.compile(r"^javis-v(?P<major>\d+)\.(?P<minor>\d+)(?:-(?P<tag>[a-z0-9][a-z0-9._-]*))?$")
SUFFIX = re.compile(r"[a-z0-9][a-z0-9._-]*")


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    tag: str = ""

    @property
    def name(self) -> str:
        return f"{PREFIX}{self.major}.{self.minor}" + (f"-{self.tag}" if self.tag else "")

    @property
    def number(self) -> str:
        return f"{self.major}.{self.minor}"

    @classmethod
    def parse(cls, name: str) -> Version:
        m = NAME.match(name)
        if not m:
            raise ReleaseError(
                f"{name!r} is not a version name; expected javis-v<major>.<minor>[-<tag>], e.g. javis-v0.2"
            )
        return cls(int(m["major"]), int(m["minor"]), m["tag"] or "")


def releases() -> list[tuple[Version, str]]:
    """(version, commit) of every release tag, oldest first."""
    found = []
    for name, commit in vcs.tag_commits(f"{PREFIX}*"):
        try:
            v = Version.parse(name)
        except ReleaseError:
            continue
        found.append((v, commit))
    return sorted(found)


def resolve(name: str) -> tuple[Version, str]:
    """A version name (or its short form `v0.2`/`0.2`) -> (Version, commit)."""
    if not name.startswith(PREFIX):
        name = PREFIX + name.lstrip("v")
    for v, rev in releases():
        if v.name == name:
            return v, rev
    known = ", ".join(v.name for v, _ in releases()) or "none yet"
    raise ReleaseError(f"no release {name!r}; releases: {known}")


def next_version(last: Version | None, major: bool, tag: str) -> Version:
    if tag and not SUFFIX.fullmatch(tag):
        raise ReleaseError(
            f"--tag {tag!r}: use lower-case letters, digits, '.', '_' or '-' (e.g. dpo, tools)"
        )
    if last is None:
        return Version(1, 0, tag) if major else Version(0, 1, tag)
    if major:
        return Version(last.major + 1, 0, tag)
    return Version(last.major, last.minor + 1, tag)
