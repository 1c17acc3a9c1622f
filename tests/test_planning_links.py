"""Every relative link in docs/planning.md (and the onboarding section of operations.md) resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def links(doc: Path) -> list[str]:
    return [m.group(1) for m in LINK.finditer(doc.read_text(encoding="utf-8")) if "://" not in m.group(1)]


@pytest.mark.parametrize("doc", ["docs/planning.md", "docs/operations.md"])
def test_every_relative_link_resolves_to_a_file_and_anchor(doc: str) -> None:
    source = ROOT / doc
    broken = []
    for target in links(source):
        file_part, _, anchor = target.partition("#")
        path = (source.parent / file_part).resolve() if file_part else source
        if not path.exists():
            broken.append(f"{target}: no such file")
        elif anchor and path.suffix == ".md" and anchor not in anchors(path):
            broken.append(f"{target}: no heading #{anchor}")
    assert broken == []


def test_planning_answers_every_question() -> None:
    text = (ROOT / "docs/planning.md").read_text(encoding="utf-8").lower()
    for question in ("objective", "scope", "direction", "triggers", "data mapping", "conflict resolution",
                     "authoritative", "loop prevention", "error handling", "logged", "security and permissions",
                     "architecture, deployment and monitoring", "edge cases", "open questions"):  # fmt: skip
        assert f"## {question}" in text or question in text, question
