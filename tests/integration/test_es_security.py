"""Elasticsearch with its security on: the test starts its own node (infra/stack.sh with
ES_SECURITY=1: TLS on HTTP with certificates from elasticsearch-certutil, file-realm users) on
other ports under its own NEWSFLOW_VAR, and checks that the services' client, the CLI and the
search API connect over TLS with the user and password from the settings, and are refused
without them, with a wrong password, or without the CA."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from elastic_transport import TlsError
from elasticsearch import AuthenticationException
from fastapi.testclient import TestClient

from newsflow.core.envelope import make_event, utc_now
from newsflow.core.es import es_client
from newsflow.index.layout import ensure_index
from newsflow.core.settings import Settings, get_settings
from newsflow.index.documents import to_action
from newsflow.index.writer import write_batch

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _ports() -> int:
    """An HTTP port whose transport port (+100) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 65000 and _free(port) and _free(port + 100):
            return port
    raise RuntimeError("no free pair of ports")


@pytest.fixture(scope="module")
def secured(stack):
    var = Path(tempfile.mkdtemp(prefix="newsflow-secure-", dir="/tmp"))
    os.chmod(var, 0o755)  # Elasticsearch runs as its own user when we are root
    port = _ports()
    env = {**os.environ, "NEWSFLOW_VAR": str(var), "ES_PORT": str(port), "ES_SECURITY": "1", "ES_HEAP": "512m",
           "ES_START_WAIT": "600"}  # two busy cores: a node may take minutes to start
    try:
        subprocess.run([str(REPO / "infra" / "stack.sh"), "up", "es"], env=env, check=True, timeout=900)
        home = var / "elasticsearch"
        yield {"url": f"https://127.0.0.1:{port}", "ca": str(home / "config" / "certs" / "ca" / "ca.crt"),
               "elastic": (home / "elastic.password").read_text().strip(),
               "newsflow": (home / "newsflow.password").read_text().strip()}
    finally:
        subprocess.run([str(REPO / "infra" / "stack.sh"), "down", "es"], env=env, timeout=120)
        shutil.rmtree(var, ignore_errors=True)


@pytest.fixture
def env(secured, monkeypatch):
    """The settings a user sets for a secured Elasticsearch: https URL, CA, user and password."""
    monkeypatch.setenv("NEWSFLOW_ELASTICSEARCH", secured["url"])
    monkeypatch.setenv("NEWSFLOW_ES_CA_FILE", secured["ca"])
    monkeypatch.setenv("NEWSFLOW_ES_USERNAME", "newsflow")
    monkeypatch.setenv("NEWSFLOW_ES_PASSWORD", secured["newsflow"])
    monkeypatch.setenv("NEWSFLOW_INDEX_ALIAS", f"sec{uuid.uuid4().hex[:8]}-articles")
    get_settings.cache_clear()  # the CLI reads the settings of this test, and later tests their own
    yield monkeypatch
    get_settings.cache_clear()


def health(settings: Settings) -> str:
    async def go():
        async with es_client(settings) as client:
            return (await client.options(max_retries=0).cluster.health())["status"]

    return asyncio.run(go())


def test_the_services_client_connects_with_the_settings_and_is_refused_without(env, secured):
    assert health(Settings()) in ("green", "yellow")
    env.delenv("NEWSFLOW_ES_USERNAME")
    env.delenv("NEWSFLOW_ES_PASSWORD")
    with pytest.raises(AuthenticationException):
        health(Settings())
    env.setenv("NEWSFLOW_ES_USERNAME", "newsflow")
    env.setenv("NEWSFLOW_ES_PASSWORD", "not-" + secured["newsflow"])
    with pytest.raises(AuthenticationException):
        health(Settings())
    env.setenv("NEWSFLOW_ES_PASSWORD", secured["newsflow"])
    env.delenv("NEWSFLOW_ES_CA_FILE")  # the system's CAs do not know the node's certificate
    with pytest.raises(TlsError):
        health(Settings())
    env.setenv("NEWSFLOW_ES_API_KEY", "bm90OmFrZXk=")  # a key the node never issued
    env.delenv("NEWSFLOW_ES_USERNAME")
    env.delenv("NEWSFLOW_ES_PASSWORD")
    env.setenv("NEWSFLOW_ES_CA_FILE", secured["ca"])
    with pytest.raises(AuthenticationException):
        health(Settings())


def test_the_index_stage_writes_and_the_api_and_cli_read_with_the_services_user(env, capsys, monkeypatch):
    settings = Settings()
    article = uuid.uuid4().hex
    event = make_event("news.enriched/1", article, uuid.uuid4().hex, {
        "url": "https://x.example/a", "final_url": "https://x.example/a", "title": "Meta hires researchers",
        "text": "Meta hired dozens of researchers.", "language": "en", "fetched_at": "2025-06-24T10:00:00Z",
        "parser_version": "t", "page_type": "article",
        "enrichment": {"version": "t", "language": {"code": "en", "confidence": 1.0}}}, "test")

    async def index():
        async with es_client(settings) as client:  # the services' user: template, index, writes
            await ensure_index(client, settings)
            result = await write_batch(client, [to_action(event, settings.index_alias, utc_now())], require_alias=True)
            await client.indices.refresh(index=settings.index_alias)
            return result

    assert asyncio.run(index()).written == 1

    from newsflow.search import api

    monkeypatch.setattr(api, "settings", settings)
    with TestClient(api.app) as http:
        assert http.get("/search", params={"q": "researchers"}).json()["total"] == 1
        assert http.get(f"/articles/{article}").json()["title"] == "Meta hires researchers"

    from newsflow.cli import main as cli

    assert cli(["indices", "list"]) == 0
    assert f"{settings.index_alias}-v1" in capsys.readouterr().out
