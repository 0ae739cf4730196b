from __future__ import annotations

import pytest

from audience import usage


@pytest.fixture
def tag_used_by():
    """Make tags "in use": `tag_used_by({"VIP": ["segment “Big spenders”"]})`."""
    uses: dict[str, list[str]] = {}

    def checker(tag) -> list[str]:
        return uses.get(tag.name, [])

    usage.usage_register(usage.TAG, checker)
    yield uses.update
    usage._checkers[usage.TAG].remove(checker)
