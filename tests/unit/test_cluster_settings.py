"""Cluster and security settings: read from the environment in one place, single-node defaults,
checked at start, and turned into the options every client takes (no server needed)."""

import ssl

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from newsflow.index.layout import index_template
from newsflow.index.indices import with_cluster_settings
from newsflow.core.schemas import topic_catalogue
from newsflow.core.security import (es_connection_options, faust_app_options, faust_broker_credentials,
                                    kafka_client_options)
from newsflow.core.settings import Settings
from newsflow.core.topics import new_compacted_topic, new_topic

CLUSTER_ENV = ("NEWSFLOW_KAFKA_REPLICATION_FACTOR", "NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS", "NEWSFLOW_KAFKA_PARTITIONS",
               "NEWSFLOW_ES_SHARDS", "NEWSFLOW_ES_REPLICAS", "NEWSFLOW_INDEX_PARTITIONING", "NEWSFLOW_ES_API_KEY",
               "NEWSFLOW_ES_USERNAME", "NEWSFLOW_ES_PASSWORD", "NEWSFLOW_ES_CA_FILE", "NEWSFLOW_KAFKA_SECURITY_PROTOCOL",
               "NEWSFLOW_KAFKA_SASL_MECHANISM", "NEWSFLOW_KAFKA_USERNAME", "NEWSFLOW_KAFKA_PASSWORD", "NEWSFLOW_KAFKA_CA_FILE")


@pytest.fixture
def env(monkeypatch):
    for name in CLUSTER_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults_are_one_node_and_plain(env):
    s = Settings()
    assert (s.kafka_replication_factor, s.kafka_min_insync_replicas, s.es_shards, s.es_replicas) == (1, 1, 1, 0)
    assert s.index_partitioning == "none"
    assert faust_app_options(s) == {"topic_replication_factor": 1, "topic_partitions": 6, "broker_credentials": None}
    assert kafka_client_options(s) == {"security_protocol": "PLAINTEXT"}
    assert es_connection_options(s) == {}
    raw = new_topic(s, topic_catalogue()["news.raw"])
    assert (raw.num_partitions, raw.replication_factor) == (6, 1)
    assert raw.topic_configs["min.insync.replicas"] == "1" and raw.topic_configs["retention.ms"] == "-1"
    template = with_cluster_settings(index_template(), "articles", s.es_shards, s.es_replicas)["template"]["settings"]
    assert (template["number_of_shards"], template["number_of_replicas"]) == (1, 0)


def test_a_three_broker_cluster_replicates_every_topic_and_changelog(env):
    env.setenv("NEWSFLOW_KAFKA_REPLICATION_FACTOR", "3")
    env.setenv("NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS", "2")
    env.setenv("NEWSFLOW_KAFKA_PARTITIONS", "12")
    s = Settings()
    catalogue = topic_catalogue()
    for spec in catalogue.values():
        topic = new_topic(s, spec)
        assert topic.replication_factor == 3 and topic.topic_configs["min.insync.replicas"] == "2"
        # more partitions for the keyed topics; the single-partition ones stay single on purpose
        assert topic.num_partitions == (12 if spec.partitions > 1 else 1), spec.name
    changelog = new_compacted_topic(s, "newsflow-fetch-url-state-changelog", s.partitions_for(6))
    assert (changelog.num_partitions, changelog.replication_factor) == (12, 3)
    assert changelog.topic_configs == {"cleanup.policy": "compact", "min.insync.replicas": "2"}
    options = faust_app_options(s)
    assert (options["topic_replication_factor"], options["topic_partitions"]) == (3, 12)


def test_shards_and_replicas_go_into_the_template_and_nothing_else_changes(env):
    env.setenv("NEWSFLOW_ES_SHARDS", "3")
    env.setenv("NEWSFLOW_ES_REPLICAS", "1")
    s = Settings()
    original = index_template()
    template = with_cluster_settings(original, "news", s.es_shards, s.es_replicas)
    assert template["index_patterns"] == ["news-v*"]
    assert template["template"]["settings"]["number_of_shards"] == 3
    assert template["template"]["settings"]["number_of_replicas"] == 1
    assert template["template"]["settings"]["analysis"] == original["template"]["settings"]["analysis"]
    assert template["template"]["mappings"] == original["template"]["mappings"]
    assert original["template"]["settings"]["number_of_shards"] == 1, "the file's template is not changed"


@pytest.mark.parametrize("changes, says", [
    ({"NEWSFLOW_KAFKA_REPLICATION_FACTOR": "3", "NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS": "4"}, "MIN_INSYNC"),
    ({"NEWSFLOW_KAFKA_REPLICATION_FACTOR": "0"}, "REPLICATION_FACTOR"),
    ({"NEWSFLOW_ES_SHARDS": "0"}, "SHARDS"),
    ({"NEWSFLOW_INDEX_PARTITIONING": "week"}, "PARTITIONING"),
    ({"NEWSFLOW_ES_API_KEY": "k", "NEWSFLOW_ES_USERNAME": "u", "NEWSFLOW_ES_PASSWORD": "p"}, "not both"),
    ({"NEWSFLOW_ES_USERNAME": "u"}, "go together"),
    ({"NEWSFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "USERNAME"),
    ({"NEWSFLOW_KAFKA_SECURITY_PROTOCOL": "TLS"}, "SECURITY_PROTOCOL"),
])
def test_wrong_settings_stop_at_once_with_the_reason(env, changes, says):
    for name, value in changes.items():
        env.setenv(name, value)
    with pytest.raises(ValueError, match=says):
        Settings()


def test_elasticsearch_credentials_and_ca_come_from_the_settings(env, tmp_path):
    env.setenv("NEWSFLOW_ES_API_KEY", "aWQ6a2V5")
    env.setenv("NEWSFLOW_ES_CA_FILE", str(tmp_path / "ca.pem"))
    assert es_connection_options(Settings()) == {"api_key": "aWQ6a2V5", "ca_certs": str(tmp_path / "ca.pem")}
    env.delenv("NEWSFLOW_ES_API_KEY")
    env.setenv("NEWSFLOW_ES_USERNAME", "newsflow")
    env.setenv("NEWSFLOW_ES_PASSWORD", "secret")
    assert es_connection_options(Settings())["basic_auth"] == ("newsflow", "secret")


@pytest.mark.parametrize("protocol", ["SASL_SSL", "SASL_PLAINTEXT", "SSL"])
def test_kafka_clients_and_faust_get_the_same_connection(env, protocol):
    env.setenv("NEWSFLOW_KAFKA_SECURITY_PROTOCOL", protocol.lower())
    env.setenv("NEWSFLOW_KAFKA_USERNAME", "newsflow")
    env.setenv("NEWSFLOW_KAFKA_PASSWORD", "secret")
    s = Settings()
    ours = kafka_client_options(s)
    fausts = credentials_to_aiokafka_auth(faust_broker_credentials(s))
    assert ours["security_protocol"] == fausts["security_protocol"] == protocol
    assert isinstance(ours.get("ssl_context"), ssl.SSLContext) == (protocol != "SASL_PLAINTEXT")
    assert isinstance(fausts.get("ssl_context"), ssl.SSLContext) == (protocol != "SASL_PLAINTEXT")
    if protocol.startswith("SASL"):
        for key in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
            assert ours[key] == fausts[key]
        assert ours["sasl_mechanism"] == "SCRAM-SHA-512"


def test_several_elasticsearch_nodes_are_all_given_to_the_client(env):
    from newsflow.core.es import es_client

    env.setenv("NEWSFLOW_ELASTICSEARCH", "http://127.0.0.1:9200, http://127.0.0.1:9201")
    s = Settings()
    assert s.elasticsearch_hosts == ["http://127.0.0.1:9200", "http://127.0.0.1:9201"]
    client = es_client(s)
    try:
        ports = sorted(node.config.port for node in client.transport.node_pool.all())
    finally:
        import asyncio

        asyncio.run(client.close())
    assert ports == [9200, 9201]
