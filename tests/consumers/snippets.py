"""What a dataset card tells a user to copy."""
from __future__ import annotations


def code_blocks(markdown: str, language: str = "python") -> list[str]:
    """The fenced ``language`` blocks of a card, in order: what a user copies."""
    blocks, current = [], None
    for line in markdown.splitlines():
        if current is None and line.strip() == f"```{language}":
            current = []
        elif current is not None and line.strip() == "```":
            blocks.append("\n".join(current))
            current = None
        elif current is not None:
            current.append(line)
    return blocks
