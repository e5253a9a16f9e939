"""The store contract on a real PostgreSQL server, plus what only a server backend has:
the password from an environment variable, and one-line errors with it redacted.

One server per module (started by initdb + pg_ctl on a free loopback port), one fresh
database per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.postgres_server import PostgresServer, postgres_server
from tests.integration.store_contract import StoreContract, concurrently
from watchstander.config.loader import load_config, parse_config
from watchstander.engine.operations import Workspace
from watchstander.errors import ConfigError, StoreError
from watchstander.store import Store, database

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    with postgres_server(tmp_path_factory.mktemp("pg")) as running:
        yield running


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store_url(self, server: PostgresServer) -> str:
        return server.create_database(f"contract_{uuid.uuid4().hex[:12]}")


def test_the_password_comes_from_the_named_environment_variable(
    server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WS_TEST_DB_PASSWORD", server.password)
    with Store.open(server.url, workdir=tmp_path, password_env="WS_TEST_DB_PASSWORD") as store:
        assert store.url == server.url.replace("watchstander@", "watchstander:***@")
        assert store.active_rollout("shop") is None

    monkeypatch.delenv("WS_TEST_DB_PASSWORD")
    with pytest.raises(StoreError) as caught:
        Store.open(server.url, workdir=tmp_path, password_env="WS_TEST_DB_PASSWORD")
    assert str(caught.value) == (
        f"cannot open the store at {server.url}: "
        "store.password_env names $WS_TEST_DB_PASSWORD, which is not set"
    )


@pytest.mark.parametrize("wrong", ["a-wrong-password", None])
def test_failures_are_one_line_with_the_password_redacted(
    server: PostgresServer, tmp_path: Path, wrong: str | None
) -> None:
    if wrong is None:  # nothing listens there
        url = server.url_with_password.replace(f":{server.port}/", ":1/")
    else:
        url = server.url_with_password.replace(server.password, wrong)
    with pytest.raises(StoreError) as caught:
        Store.open(url, workdir=tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("cannot open the store at postgresql+psycopg://watchstander:***@")
    assert server.password not in message
    assert (wrong or server.password) not in message


EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "postgresql.yaml"


def test_the_documented_example_opens_its_store_on_a_real_server(
    server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    documented = load_config(EXAMPLE)
    assert documented.store.url == "postgresql+psycopg://watchstander@db.internal:5432/watchstander"
    assert documented.store.password_env == "WATCHSTANDER_DB_PASSWORD"
    text = EXAMPLE.read_text(encoding="utf-8")
    here = text.replace("@db.internal:5432/", f"@127.0.0.1:{server.port}/")
    assert here != text
    (tmp_path / "watchstander.yaml").write_text(here, encoding="utf-8")
    ws = Workspace.load(tmp_path)
    monkeypatch.setenv("WATCHSTANDER_DB_PASSWORD", server.password)
    with ws.open_store() as store:
        assert store.url == server.url.replace("watchstander@", "watchstander:***@")
        assert store.acquire_lease("rollout:checkout", holder="h", ttl=5, now=datetime.now(UTC))


def test_a_password_in_the_url_is_refused_by_the_config() -> None:
    with pytest.raises(ConfigError, match="store.password_env"):
        parse_config(
            "service: {name: s}\n"
            "target: {type: local, command: [serve, '{port}']}\n"
            "store: {url: 'postgresql+psycopg://u:secret@db:5432/x'}\n"
        )


def test_processes_opening_an_empty_database_together_migrate_it_once(
    server: PostgresServer, tmp_path: Path
) -> None:
    url = server.create_database(f"race_{uuid.uuid4().hex[:12]}")
    opened: list[Store] = []

    def open_one(i: int) -> None:
        opened.append(Store.open(url, workdir=tmp_path))

    try:
        concurrently(4, open_one)
        assert len(opened) == 4
        engine = database.connect(url)
        try:
            assert database.current_revision(engine) == database.head_revision()
        finally:
            engine.dispose()
    finally:
        for store in opened:
            store.close()
