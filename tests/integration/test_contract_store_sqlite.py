"""The store contract on SQLite (a file in the test's temporary directory)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.store_contract import StoreContract

pytestmark = pytest.mark.integration


class TestSqliteStore(StoreContract):
    @pytest.fixture
    def store_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{(tmp_path / 'contract.db').as_posix()}"
