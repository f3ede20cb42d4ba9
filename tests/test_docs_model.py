"""docs/data-model.md keeps step with the field specifications: every kind and field is there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from demine.model.kinds import KINDS
from demine.services.access import READ_KIND

DOC = (Path(__file__).parent.parent / "docs" / "data-model.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_kind_and_field_is_documented(name: str) -> None:
    kind = KINDS[name]
    m = re.search(rf"^### `{name}` — (.+)$", DOC, re.M)
    assert m, f"docs/data-model.md has no section for {name}"
    section = DOC[m.end() : DOC.find("\n### ", m.end())]
    for f in kind.fields:
        row = re.search(rf"^\| `{f.name}` \| ([^|]+)\|([^|]*)\|[^|]*\| (\w+) \|", section, re.M)
        assert row, f"{name}.{f.name} is not in docs/data-model.md"
        assert row.group(1).strip().startswith(f.type.value), (name, f.name)
        # who may read: the field's rule, or the kind's when the whole kind is restricted
        assert row.group(3) in (f.access.value, READ_KIND[name]), (name, f.name, row.group(3))
