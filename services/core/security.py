"""How every client connects when security is on: the options the Elasticsearch client, the
plain aiokafka clients and faust's broker take, all made from the same settings.

Unset settings give plain, unauthenticated connections (the local single-node stack)."""

from __future__ import annotations

import ssl

from .settings import Settings


def es_connection_options(settings: Settings) -> dict:
    """Keyword arguments for `AsyncElasticsearch`: the API key or user and password, and the
    CA that signed the server's certificate (TLS is chosen by an https URL)."""
    options: dict = {}
    if settings.es_api_key:
        options["api_key"] = settings.es_api_key
    elif settings.es_username:
        options["basic_auth"] = (settings.es_username, settings.es_password)
    if settings.es_ca_file:
        options["ca_certs"] = settings.es_ca_file
    return options


def kafka_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SSL and SASL_SSL (the system's CAs unless a CA file is named)."""
    if settings.kafka_security_protocol not in ("SSL", "SASL_SSL"):
        return None
    return ssl.create_default_context(cafile=settings.kafka_ca_file or None)


def kafka_client_options(settings: Settings) -> dict:
    """Keyword arguments for aiokafka's producer, consumer and admin client."""
    protocol = settings.kafka_security_protocol
    options: dict = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = kafka_ssl_context(settings)
    if protocol.startswith("SASL_"):
        options.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=settings.kafka_username,
                       sasl_plain_password=settings.kafka_password)
    return options


def faust_broker_credentials(settings: Settings):
    """faust's `broker_credentials` for the same connection, or None for PLAINTEXT."""
    from faust.auth import SASLCredentials, SSLCredentials

    protocol = settings.kafka_security_protocol
    if protocol == "SSL":
        return SSLCredentials(kafka_ssl_context(settings))
    if protocol.startswith("SASL_"):
        return SASLCredentials(username=settings.kafka_username, password=settings.kafka_password,
                               ssl_context=kafka_ssl_context(settings), mechanism=settings.kafka_sasl_mechanism)
    return None



def faust_app_options(settings: Settings) -> dict:
    """The cluster and security options of a faust app: replication factor and partitions of
    the topics faust makes itself, and the broker credentials."""
    return {"topic_replication_factor": settings.kafka_replication_factor,
            "topic_partitions": settings.default_partitions,
            "broker_credentials": faust_broker_credentials(settings)}
