#!/usr/bin/env bash
# Starts and stops the real local servers: a single-node Kafka broker in KRaft mode (jars from
# Maven Central) and a single-node Elasticsearch (the integ-test zip from Maven Central).
#
#   infra/stack.sh fetch            download artifacts into the cache (once)
#   infra/stack.sh up [kafka|es]    start (idempotent: a running server is left alone, except an
#                                   Elasticsearch without the current analysis plugin: restarted once)
#   infra/stack.sh down [kafka|es]  stop (idempotent)
#   infra/stack.sh status           one line per server
#   infra/stack.sh plugin           build the newsflow-analysis plugin zip (cached) and print its path
#   infra/stack.sh cluster-up|cluster-down|cluster-status
#                                   three Kafka brokers and two Elasticsearch nodes on loopback
#                                   (make cluster-up; see "a local cluster" below)
#
# Settings (environment): NEWSFLOW_VAR (data and logs, default <repo>/.var),
# NEWSFLOW_CACHE (downloaded artifacts), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (9093),
# ES_PORT (9200), KAFKA_HEAP (512m), ES_HEAP (1g), ES_JAVA_HOME, ES_START_WAIT (seconds, 90).
#
# KAFKA_SASL=1 starts Kafka with SASL/SCRAM-SHA-512 on its client port (user `newsflow`, password
# from KAFKA_SASL_PASSWORD or generated, in $NEWSFLOW_VAR/kafka/newsflow.password).
#
# ES_SECURITY=1 starts Elasticsearch with its security on: TLS on HTTP with a certificate from
# a local CA (made with elasticsearch-certutil into $NEWSFLOW_VAR/elasticsearch/config/certs,
# the CA in ca/ca.crt there), the `elastic` user's password from ELASTIC_PASSWORD (generated
# when unset) in $NEWSFLOW_VAR/elasticsearch/elastic.password, and the services' own user
# `newsflow` (role `newsflow`, file realm) with its password in .../newsflow.password. (API keys
# live in the security index, which this distribution cannot create: it lacks the
# analysis-common module its mapping uses. A full distribution or a cluster has them.)
# Use it with its own NEWSFLOW_VAR and ES_PORT (tests/integration/test_es_security.py does).
set -euo pipefail

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$INFRA_DIR")"
# shellcheck source=versions.env
source "$INFRA_DIR/versions.env"

NEWSFLOW_VAR="${NEWSFLOW_VAR:-$REPO_DIR/.var}"
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
ES_PORT="${ES_PORT:-9200}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
ES_HEAP="${ES_HEAP:-1g}"
ES_USER="${ES_USER:-newsflow}"
ES_SECURITY="${ES_SECURITY:-0}"
KAFKA_SASL="${KAFKA_SASL:-0}"
ES_START_WAIT="${ES_START_WAIT:-90}"

# Elasticsearch refuses to run as root, so as root it runs as an unprivileged user, and its
# files must be readable by that user: /root is not, hence a system-wide cache for root.
if [ "$(id -u)" = 0 ]; then
  NEWSFLOW_CACHE="${NEWSFLOW_CACHE:-/var/cache/newsflow}"
else
  NEWSFLOW_CACHE="${NEWSFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/newsflow}"
fi

KAFKA_LIBS="$NEWSFLOW_CACHE/kafka-$KAFKA_VERSION/libs"
ES_HOME="$NEWSFLOW_CACHE/elasticsearch-$ELASTICSEARCH_VERSION"
KAFKA_VAR="$NEWSFLOW_VAR/kafka"
ES_VAR="$NEWSFLOW_VAR/elasticsearch"
# The project's analysis plugin (infra/es-plugin): built with Maven into the cache, installed
# into the cached Elasticsearch. Its index template needs it (see infra/README.md).
PLUGIN_NAME=newsflow-analysis
PLUGIN_SRC="$INFRA_DIR/es-plugin"
PLUGIN_CACHE="$NEWSFLOW_CACHE/es-plugin-$ELASTICSEARCH_VERSION"

die() { echo "stack: $*" >&2; exit 1; }
say() { echo "stack: $*"; }

need_java() {
  command -v java >/dev/null 2>&1 || die "no Java found: install a JDK ${JAVA_MIN_VERSION}+ (e.g. apt-get install openjdk-17-jdk-headless)"
  local major
  major=$(java -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}')
  [ "${major%%.*}" -ge "$JAVA_MIN_VERSION" ] || die "Java $major is too old: Kafka $KAFKA_VERSION and Elasticsearch $ELASTICSEARCH_VERSION need ${JAVA_MIN_VERSION}+"
}

need_maven() {
  command -v mvn >/dev/null 2>&1 || die "no Maven found: it resolves the Kafka and Elasticsearch artifacts from Maven Central (apt-get install maven)"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

fetch_kafka() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  need_maven
  say "resolving Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"; mkdir -p "$KAFKA_LIBS"
  mvn -q -B -f "$INFRA_DIR/kafka/pom.xml" dependency:copy-dependencies \
      -Dkafka.version="$KAFKA_VERSION" -Dlog4j.version="$LOG4J_VERSION" \
      -DoutputDirectory="$KAFKA_LIBS" -DincludeScope=runtime \
    || die "download of Kafka $KAFKA_VERSION failed (is Maven Central reachable? see the Maven output above)"
  touch "$KAFKA_LIBS/.complete"
}

fetch_es() {
  [ -f "$ES_HOME/.complete" ] && return 0
  need_maven
  local zipdir="$NEWSFLOW_CACHE/downloads"
  local zip="$zipdir/elasticsearch-$ELASTICSEARCH_VERSION.zip"
  mkdir -p "$zipdir"
  if [ ! -f "$zip" ]; then
    say "downloading Elasticsearch $ELASTICSEARCH_VERSION (integ-test zip) from Maven Central"
    mvn -q -B dependency:copy \
        -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ELASTICSEARCH_VERSION:zip" \
        -DoutputDirectory="$zipdir" \
      || die "download of Elasticsearch $ELASTICSEARCH_VERSION failed (is Maven Central reachable?)"
  fi
  rm -rf "$ES_HOME" "$ES_HOME.tmp"; mkdir -p "$ES_HOME.tmp"
  (cd "$ES_HOME.tmp" && python3 -m zipfile -e "$zip" .) || die "could not unpack $zip"
  mv "$ES_HOME.tmp/elasticsearch-$ELASTICSEARCH_VERSION" "$ES_HOME"; rmdir "$ES_HOME.tmp"
  chmod -R a+rX "$ES_HOME"; chmod a+x "$ES_HOME"/bin/* "$ES_HOME"/lib/platform/*/* 2>/dev/null || true
  touch "$ES_HOME/.complete"
}

# ---------------------------------------------------------------- the analysis plugin

# A digest of the plugin's sources names its build, so an edit rebuilds and reinstalls it.
plugin_digest() {
  (cd "$PLUGIN_SRC" && find pom.xml src -type f | LC_ALL=C sort | xargs sha256sum) | sha256sum | cut -c1-16
}

build_es_plugin() {  # sets PLUGIN_ZIP
  PLUGIN_ZIP="$PLUGIN_CACHE/$PLUGIN_NAME-$(plugin_digest).zip"
  [ -f "$PLUGIN_ZIP" ] && return 0
  need_maven
  fetch_es  # the plugin is compiled against the Lucene version the server ships
  local lucene
  lucene=$(find "$ES_HOME/lib" -maxdepth 1 -name 'lucene-core-*.jar' -printf '%f\n' | sed -n 's/^lucene-core-\(.*\)\.jar$/\1/p')
  [ -n "$lucene" ] || die "no lucene-core jar in $ES_HOME/lib"
  say "building the $PLUGIN_NAME plugin for Elasticsearch $ELASTICSEARCH_VERSION (Lucene $lucene) with Maven"
  rm -rf "$PLUGIN_CACHE/build"
  mvn -q -B -f "$PLUGIN_SRC/pom.xml" package -Delasticsearch.version="$ELASTICSEARCH_VERSION" \
      -Dlucene.version="$lucene" -Dplugin.build.dir="$PLUGIN_CACHE/build" \
    || die "building the $PLUGIN_NAME plugin failed (see the Maven output above)"
  cp "$PLUGIN_CACHE/build/$PLUGIN_NAME.zip" "$PLUGIN_ZIP.tmp" && mv "$PLUGIN_ZIP.tmp" "$PLUGIN_ZIP"
}

# Installs the current build into the cached Elasticsearch unless it is there already.
install_es_plugin() {
  need_java
  build_es_plugin
  local marker="$ES_HOME/.$PLUGIN_NAME" tool=(env ES_JAVA_HOME="$(es_java_home)" "$ES_HOME/bin/elasticsearch-plugin")
  if [ -d "$ES_HOME/plugins/$PLUGIN_NAME" ] && [ "$(cat "$marker" 2>/dev/null)" = "$(basename "$PLUGIN_ZIP")" ]; then
    return 0
  fi
  say "installing the $PLUGIN_NAME plugin into $ES_HOME"
  if [ -d "$ES_HOME/plugins/$PLUGIN_NAME" ]; then "${tool[@]}" remove --silent "$PLUGIN_NAME" >/dev/null; fi
  "${tool[@]}" install --batch --silent "file://$PLUGIN_ZIP" >/dev/null 2>&1 \
    || die "installing $PLUGIN_ZIP into Elasticsearch failed"
  chmod -R a+rX "$ES_HOME/plugins"
  basename "$PLUGIN_ZIP" > "$marker"
}

# ---------------------------------------------------------------- Kafka

# SASL/SCRAM on: clients (and the broker itself) authenticate as `newsflow` with SCRAM-SHA-512
# on the client port; the user is created when the storage is formatted. The password is
# KAFKA_SASL_PASSWORD (generated when unset), kept in $NEWSFLOW_VAR/kafka/newsflow.password.
kafka_sasl_config() {
  local props="$KAFKA_VAR/server.properties" pw
  [ -f "$KAFKA_VAR/newsflow.password" ] || (umask 077; echo "${KAFKA_SASL_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}" > "$KAFKA_VAR/newsflow.password")
  pw=$(cat "$KAFKA_VAR/newsflow.password"); chmod 600 "$props"
  sed -i -e "s#PLAINTEXT://127.0.0.1:$KAFKA_PORT#SASL_PLAINTEXT://127.0.0.1:$KAFKA_PORT#g" \
         -e 's#^listener.security.protocol.map=.*#listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT#' \
         -e 's#^inter.broker.listener.name=.*#inter.broker.listener.name=SASL_PLAINTEXT#' "$props"
  {
    echo "sasl.enabled.mechanisms=SCRAM-SHA-512"
    echo "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512"
    echo "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"newsflow\" password=\"$pw\";"
  } >> "$props"
}

# One broker (and controller) of a cluster: node id, the static voters, every internal topic
# replicated three times with two in sync.
kafka_cluster_config() {
  sed -i -e "s#^node.id=.*#node.id=$KAFKA_NODE_ID#" \
         -e "s#^controller.quorum.bootstrap.servers=.*#controller.quorum.voters=$KAFKA_VOTERS#" \
         -e 's#^\(offsets.topic.replication.factor\|transaction.state.log.replication.factor\|share.coordinator.state.topic.replication.factor\)=.*#\1=3#' \
         -e 's#^\(transaction.state.log.min.isr\|share.coordinator.state.topic.min.isr\)=.*#\1=2#' "$KAFKA_VAR/server.properties"
  { echo "default.replication.factor=3"; echo "min.insync.replicas=2"; } >> "$KAFKA_VAR/server.properties"
}

kafka_up() {
  need_java
  local pidf="$KAFKA_VAR/kafka.pid"
  if pid_alive "$pidf"; then say "kafka already running (pid $(cat "$pidf")) on 127.0.0.1:$KAFKA_PORT"; return 0; fi
  port_busy "$KAFKA_PORT" && die "port $KAFKA_PORT is in use by another program: set KAFKA_PORT"
  port_busy "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT is in use by another program: set KAFKA_CONTROLLER_PORT"
  fetch_kafka
  mkdir -p "$KAFKA_VAR/data" "$KAFKA_VAR/logs"
  sed -e "s#@PORT@#$KAFKA_PORT#g" -e "s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
      -e "s#@DATA@#$KAFKA_VAR/data#g" "$INFRA_DIR/kafka/server.properties" > "$KAFKA_VAR/server.properties"
  local cp="$KAFKA_LIBS/*" scram=()
  if [ "$KAFKA_SASL" = 1 ]; then kafka_sasl_config; scram=(--add-scram "SCRAM-SHA-512=[name=newsflow,password=$(cat "$KAFKA_VAR/newsflow.password")]"); fi
  local quorum=(--standalone) cluster_id=""
  if [ -n "${KAFKA_VOTERS:-}" ]; then kafka_cluster_config; quorum=(); cluster_id="$KAFKA_CLUSTER_ID"; fi
  if [ ! -f "$KAFKA_VAR/data/meta.properties" ]; then
    say "formatting Kafka storage in $KAFKA_VAR/data"
    java -cp "$cp" -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" -Dkafka.logs.dir="$KAFKA_VAR/logs" \
      kafka.tools.StorageTool format --ignore-formatted "${quorum[@]}" \
      -t "${cluster_id:-$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)}" \
      -c "$KAFKA_VAR/server.properties" "${scram[@]}" >"$KAFKA_VAR/logs/format.log" 2>&1 \
      || die "formatting Kafka storage failed: see $KAFKA_VAR/logs/format.log"
  fi
  say "starting Kafka $KAFKA_VERSION on 127.0.0.1:$KAFKA_PORT (logs: $KAFKA_VAR/logs)"
  nohup java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$INFRA_DIR/kafka/log4j2.properties" -Dkafka.logs.dir="$KAFKA_VAR/logs" \
    -cp "$cp" kafka.Kafka "$KAFKA_VAR/server.properties" >"$KAFKA_VAR/logs/stdout.log" 2>&1 &
  echo $! > "$pidf"
  [ "${KAFKA_WAIT:-1}" = 1 ] || return 0   # a cluster's brokers are waited for together
  for _ in $(seq 1 120); do
    if grep -q "Kafka Server started" "$KAFKA_VAR/logs/server.log" 2>/dev/null && port_busy "$KAFKA_PORT"; then
      say "kafka up"; return 0
    fi
    pid_alive "$pidf" || { tail -n 30 "$KAFKA_VAR/logs/stdout.log" "$KAFKA_VAR/logs/server.log" >&2 2>/dev/null; die "kafka exited during start-up"; }
    sleep 0.5
  done
  die "kafka did not start within 60 s: see $KAFKA_VAR/logs/server.log"
}

# ---------------------------------------------------------------- Elasticsearch

es_java_home() {
  if [ -n "${ES_JAVA_HOME:-}" ]; then echo "$ES_JAVA_HOME"; return; fi
  dirname "$(dirname "$(readlink -f "$(command -v java)")")"
}

as_es_user() {
  if [ "$(id -u)" = 0 ]; then runuser -u "$ES_USER" -- "$@"; else "$@"; fi
}

# GET on the local node, over TLS with the elastic user when its security is on.
es_curl() {
  if [ -f "$ES_VAR/elastic.password" ]; then
    curl -fsS --cacert "$ES_VAR/config/certs/ca/ca.crt" -u "elastic:$(cat "$ES_VAR/elastic.password")" "https://127.0.0.1:$ES_PORT$1"
  else
    curl -fsS "http://127.0.0.1:$ES_PORT$1"
  fi
}

# Security on: a CA and an HTTP certificate for 127.0.0.1/localhost (elasticsearch-certutil,
# PEM), TLS on HTTP, and the elastic user's bootstrap password in the node's keystore. On one
# node (discovery.type single-node) the transport layer needs no TLS.
es_secure_config() {
  local conf="$ES_VAR/config" certs="$ES_VAR/config/certs" tool
  tool() { env ES_JAVA_HOME="$(es_java_home)" ES_PATH_CONF="$conf" "$ES_HOME/bin/$1" "${@:2}"; }
  if [ ! -f "$certs/http/http.crt" ]; then
    rm -rf "$certs"; mkdir -p "$certs"
    tool elasticsearch-certutil ca --silent --pem --out "$certs/ca.zip" >/dev/null
    (cd "$certs" && python3 -m zipfile -e ca.zip .)
    tool elasticsearch-certutil cert --silent --pem --name http --ip 127.0.0.1 --dns localhost \
        --ca-cert "$certs/ca/ca.crt" --ca-key "$certs/ca/ca.key" --out "$certs/http.zip" >/dev/null
    (cd "$certs" && python3 -m zipfile -e http.zip .)
    rm -f "$certs"/*.zip
  fi
  [ -f "$ES_VAR/elastic.password" ] || (umask 077; echo "${ELASTIC_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}" > "$ES_VAR/elastic.password")
  rm -f "$conf/elasticsearch.keystore"
  tool elasticsearch-keystore create >/dev/null
  tool elasticsearch-keystore add --stdin --force bootstrap.password < "$ES_VAR/elastic.password" >/dev/null
  # The services' own user (file realm): what they need and no more (README "Running on a cluster").
  [ -f "$ES_VAR/newsflow.password" ] || (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$ES_VAR/newsflow.password")
  cat >> "$conf/roles.yml" <<'ROLES'
newsflow:
  cluster: ["monitor", "manage_index_templates"]
  indices:
    - names: ["articles*", "*-articles*"]
      privileges: ["create_index", "manage", "read", "write", "view_index_metadata"]
ROLES
  tool elasticsearch-users useradd newsflow -p "$(cat "$ES_VAR/newsflow.password")" -r newsflow >/dev/null
  sed -i 's/^xpack.security.enabled: false$/xpack.security.enabled: true/' "$conf/elasticsearch.yml"
  {
    echo "xpack.security.http.ssl.enabled: true"
    echo "xpack.security.http.ssl.key: certs/http/http.key"
    echo "xpack.security.http.ssl.certificate: certs/http/http.crt"
    echo "xpack.security.http.ssl.certificate_authorities: certs/ca/ca.crt"
    echo "xpack.security.authc.api_key.enabled: true"
  } >> "$conf/elasticsearch.yml"
  if [ "$(id -u)" = 0 ]; then chown -R "$ES_USER" "$conf"; fi
}

es_up() {
  need_java
  local pidf="$ES_VAR/es.pid"
  mkdir -p "$NEWSFLOW_CACHE"
  # One `up` at a time: parallel test sessions must not build, install or restart twice.
  if command -v flock >/dev/null 2>&1; then exec 9>"$NEWSFLOW_CACHE/.es-up.lock"; flock 9; fi
  fetch_es
  install_es_plugin
  if [ -f "$pidf" ] && kill -0 "$(cat "$pidf")" 2>/dev/null; then
    if [ "$(cat "$ES_VAR/plugin.loaded" 2>/dev/null)" = "$(cat "$ES_HOME/.$PLUGIN_NAME")" ]; then
      say "elasticsearch already running (pid $(cat "$pidf")) on http://127.0.0.1:$ES_PORT"; return 0
    fi
    # A node started before this plugin build cannot create the project's indices.
    say "restarting elasticsearch to load the current $PLUGIN_NAME plugin"
    stop_pid elasticsearch "$pidf"
  fi
  port_busy "$ES_PORT" && die "port $ES_PORT is in use by another program: set ES_PORT"
  mkdir -p "$ES_VAR/data" "$ES_VAR/logs" "$ES_VAR/config" "$ES_VAR/tmp"
  cp -r "$ES_HOME/config/." "$ES_VAR/config/"
  cp "$INFRA_DIR/elasticsearch.yml" "$ES_VAR/config/elasticsearch.yml"
  {
    echo "http.port: $ES_PORT"
    echo "transport.port: $((ES_PORT + 100))"
    echo "path.data: $ES_VAR/data"
    echo "path.logs: $ES_VAR/logs"
  } >> "$ES_VAR/config/elasticsearch.yml"
  if [ "$ES_SECURITY" = 1 ]; then es_secure_config; fi
  if [ -n "${ES_SEED_HOSTS:-}" ]; then
    sed -i -e "s/^node.name: .*/node.name: $ES_NODE_NAME/" -e '/^discovery.type: single-node$/d' "$ES_VAR/config/elasticsearch.yml"
    { echo "discovery.seed_hosts: [$ES_SEED_HOSTS]"; echo "cluster.initial_master_nodes: [$ES_INITIAL_MASTER]"; } >> "$ES_VAR/config/elasticsearch.yml"
  fi
  if [ "$(id -u)" = 0 ]; then
    id -u "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" \
      || die "cannot create the unprivileged user $ES_USER that Elasticsearch must run as"
    chown -R "$ES_USER" "$ES_VAR"
    # The user must be able to reach its folders through every parent directory.
    local d="$ES_VAR"; while [ "$d" != / ]; do d=$(dirname "$d"); chmod o+x "$d" 2>/dev/null || true; done
  fi
  say "starting Elasticsearch $ELASTICSEARCH_VERSION on http$([ "$ES_SECURITY" = 1 ] && echo s)://127.0.0.1:$ES_PORT (logs: $ES_VAR/logs)"
  as_es_user env ES_JAVA_HOME="$(es_java_home)" ES_PATH_CONF="$ES_VAR/config" ES_TMPDIR="$ES_VAR/tmp" \
      ES_JAVA_OPTS="-Xms$ES_HEAP -Xmx$ES_HEAP ${ES_JAVA_OPTS:-}" \
      "$ES_HOME/bin/elasticsearch" -d -p "$pidf" >"$ES_VAR/logs/stdout.log" 2>&1 \
    || { tail -n 30 "$ES_VAR/logs/stdout.log" >&2; die "elasticsearch failed to start"; }
  # No GET / in this distribution's recent versions: cluster health is the readiness check.
  for _ in $(seq 1 $((ES_START_WAIT * 2))); do
    if es_curl "/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; then
      cp "$ES_HOME/.$PLUGIN_NAME" "$ES_VAR/plugin.loaded"
      say "elasticsearch up"; return 0
    fi
    sleep 0.5
  done
  die "elasticsearch did not become healthy within $ES_START_WAIT s: see $ES_VAR/logs/"
}

# ---------------------------------------------------------------- a local cluster

# Three Kafka brokers (KRaft, each also a controller) and two Elasticsearch nodes on loopback,
# under $NEWSFLOW_VAR/cluster, on ports from CLUSTER_KAFKA_PORT (19092: brokers +0, +2, +4,
# their controllers one above) and CLUSTER_ES_PORT (19200: nodes +0, +1, transport +100),
# below the range of ephemeral ports, where a client connection could take a port first.
CLUSTER_VAR="$NEWSFLOW_VAR/cluster"
CLUSTER_KAFKA_PORT="${CLUSTER_KAFKA_PORT:-19092}"
CLUSTER_ES_PORT="${CLUSTER_ES_PORT:-19200}"

cluster_broker() {  # i command...: run with broker i's variables
  local i="$1"; shift
  KAFKA_VAR="$CLUSTER_VAR/kafka-$i" KAFKA_PORT=$((CLUSTER_KAFKA_PORT + 2 * (i - 1))) \
    KAFKA_CONTROLLER_PORT=$((CLUSTER_KAFKA_PORT + 2 * (i - 1) + 1)) KAFKA_NODE_ID="$i" "$@"
}

cluster_es() {  # i command...: run with Elasticsearch node i's variables
  local i="$1"; shift
  ES_VAR="$CLUSTER_VAR/es-$i" ES_PORT=$((CLUSTER_ES_PORT + i - 1)) ES_NODE_NAME="newsflow-c$i" "$@"
}

cluster_up() {
  need_java; fetch_kafka
  mkdir -p "$CLUSTER_VAR"
  [ -f "$CLUSTER_VAR/cluster.id" ] || java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 > "$CLUSTER_VAR/cluster.id"
  local voters="" i
  for i in 1 2 3; do voters="${voters:+$voters,}$i@127.0.0.1:$((CLUSTER_KAFKA_PORT + 2 * (i - 1) + 1))"; done
  for i in 1 2 3; do
    KAFKA_VOTERS="$voters" KAFKA_CLUSTER_ID="$(cat "$CLUSTER_VAR/cluster.id")" KAFKA_WAIT=0 cluster_broker "$i" kafka_up
  done
  for i in 1 2 3; do  # a broker finishes starting once a majority of controllers is up
    local log="$CLUSTER_VAR/kafka-$i/logs/server.log" ok=0
    for _ in $(seq 1 $((ES_START_WAIT * 2))); do
      if grep -q "Kafka Server started" "$log" 2>/dev/null; then ok=1; break; fi
      pid_alive "$CLUSTER_VAR/kafka-$i/kafka.pid" || die "kafka broker $i exited during start-up: see $log"
      sleep 0.5
    done
    [ "$ok" = 1 ] || die "kafka broker $i did not start within $ES_START_WAIT s: see $log"
  done
  say "kafka cluster up: $(cluster_bootstrap)"
  local seeds="127.0.0.1:$((CLUSTER_ES_PORT + 100)),127.0.0.1:$((CLUSTER_ES_PORT + 101))"
  for i in 1 2; do ES_SEED_HOSTS="$seeds" ES_INITIAL_MASTER=newsflow-c1 cluster_es "$i" es_up; done
  for _ in $(seq 1 $((ES_START_WAIT * 2))); do
    if curl -fsS "http://127.0.0.1:$CLUSTER_ES_PORT/_cluster/health?wait_for_nodes=2&timeout=1s" >/dev/null 2>&1; then
      say "elasticsearch cluster up: $(cluster_es_hosts)"
      echo "export NEWSFLOW_KAFKA=$(cluster_bootstrap) NEWSFLOW_ELASTICSEARCH=$(cluster_es_hosts)"
      echo "export NEWSFLOW_KAFKA_REPLICATION_FACTOR=3 NEWSFLOW_KAFKA_MIN_INSYNC_REPLICAS=2 NEWSFLOW_ES_REPLICAS=1"
      return 0
    fi
    sleep 0.5
  done
  die "the two Elasticsearch nodes did not form a cluster within $ES_START_WAIT s: see $CLUSTER_VAR/es-*/logs/"
}

cluster_bootstrap() { echo "127.0.0.1:$CLUSTER_KAFKA_PORT,127.0.0.1:$((CLUSTER_KAFKA_PORT + 2)),127.0.0.1:$((CLUSTER_KAFKA_PORT + 4))"; }
cluster_es_hosts() { echo "http://127.0.0.1:$CLUSTER_ES_PORT,http://127.0.0.1:$((CLUSTER_ES_PORT + 1))"; }

cluster_down() {
  local i
  for i in 2 1; do stop_pid "elasticsearch node $i" "$CLUSTER_VAR/es-$i/es.pid"; done
  for i in 3 2 1; do stop_pid "kafka broker $i" "$CLUSTER_VAR/kafka-$i/kafka.pid"; done
}

cluster_status() {
  local i
  for i in 1 2 3; do
    if pid_alive "$CLUSTER_VAR/kafka-$i/kafka.pid"; then echo "kafka-$i        running  pid $(cat "$CLUSTER_VAR/kafka-$i/kafka.pid")  127.0.0.1:$((CLUSTER_KAFKA_PORT + 2 * (i - 1)))"
    else echo "kafka-$i        stopped"; fi
  done
  for i in 1 2; do
    if pid_alive "$CLUSTER_VAR/es-$i/es.pid"; then echo "elasticsearch-$i running  pid $(cat "$CLUSTER_VAR/es-$i/es.pid")  http://127.0.0.1:$((CLUSTER_ES_PORT + i - 1))"
    else echo "elasticsearch-$i stopped"; fi
  done
}

# ---------------------------------------------------------------- common

stop_pid() {  # name pidfile
  local pidf="$2"
  if ! pid_alive "$pidf"; then rm -f "$pidf"; say "$1 not running"; return 0; fi
  local pid; pid=$(cat "$pidf")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidf"; say "$1 stopped"
}

status() {
  if pid_alive "$KAFKA_VAR/kafka.pid"; then echo "kafka          running  pid $(cat "$KAFKA_VAR/kafka.pid")  127.0.0.1:$KAFKA_PORT"
  else echo "kafka          stopped"; fi
  if pid_alive "$ES_VAR/es.pid"; then
    local health; health=$(es_curl "/_cluster/health" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo "not answering")
    echo "elasticsearch  running  pid $(cat "$ES_VAR/es.pid")  http://127.0.0.1:$ES_PORT  ($health)"
  else echo "elasticsearch  stopped"; fi
}

cmd="${1:-status}"; what="${2:-all}"
case "$cmd:$what" in
  fetch:*) fetch_kafka; fetch_es; install_es_plugin ;;
  # Under a fixed name too, for docker-compose and other Elasticsearch installations.
  plugin:*) build_es_plugin >&2; cp "$PLUGIN_ZIP" "$PLUGIN_CACHE/$PLUGIN_NAME.zip"; echo "$PLUGIN_CACHE/$PLUGIN_NAME.zip" ;;
  up:kafka) kafka_up ;;
  up:es) es_up ;;
  up:all) kafka_up; es_up ;;
  down:kafka) stop_pid kafka "$KAFKA_VAR/kafka.pid" ;;
  down:es) stop_pid elasticsearch "$ES_VAR/es.pid" ;;
  down:all) stop_pid kafka "$KAFKA_VAR/kafka.pid"; stop_pid elasticsearch "$ES_VAR/es.pid" ;;
  status:*) status ;;
  cluster-up:*) cluster_up ;;
  cluster-down:*) cluster_down ;;
  cluster-status:*) cluster_status ;;
  *) die "usage: stack.sh fetch|up|down|status [kafka|es] | plugin | cluster-up|cluster-down|cluster-status" ;;
esac
