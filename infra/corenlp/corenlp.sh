#!/usr/bin/env bash
# Starts and stops the local Stanford CoreNLP server that the enrich stage asks for named
# entities (German, English, French and Spanish CRF models from Maven Central; see pom.xml here).
#
#   infra/corenlp/corenlp.sh fetch    resolve the jars and unpack the NER models into the cache
#   infra/corenlp/corenlp.sh up       start on 127.0.0.1:$CORENLP_PORT and load the models (idempotent;
#                                     models added to pom.xml since the cache was filled are fetched
#                                     even when the server runs, which finds them on its class path)
#   infra/corenlp/corenlp.sh down     stop (idempotent)
#   infra/corenlp/corenlp.sh status   one line
#
# Settings (environment): CORENLP_VERSION (4.5.10), CORENLP_PORT (9000), CORENLP_HEAP (1g, enough
# for the four models),
# CORENLP_THREADS (2), NEWSFLOW_VAR (pid and logs, default <repo>/.var), NEWSFLOW_CACHE
# (downloaded artifacts, as infra/stack.sh). The enrich code finds the server through
# NEWSFLOW_CORENLP_URL (default http://127.0.0.1:9000).
#
# CoreNLP's server has no bind-address option: it listens on every interface. On a host
# reachable from a network, firewall the port.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(dirname "$(dirname "$HERE")")"

CORENLP_VERSION="${CORENLP_VERSION:-4.5.10}"
CORENLP_PORT="${CORENLP_PORT:-9000}"
CORENLP_HEAP="${CORENLP_HEAP:-1g}"
CORENLP_THREADS="${CORENLP_THREADS:-2}"
NEWSFLOW_VAR="${NEWSFLOW_VAR:-$REPO_DIR/.var}"
if [ "$(id -u)" = 0 ]; then
  NEWSFLOW_CACHE="${NEWSFLOW_CACHE:-/var/cache/newsflow}"
else
  NEWSFLOW_CACHE="${NEWSFLOW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/newsflow}"
fi

HOME_DIR="$NEWSFLOW_CACHE/corenlp-$CORENLP_VERSION"
VAR_DIR="$NEWSFLOW_VAR/corenlp"
PIDF="$VAR_DIR/corenlp.pid"

die() { echo "corenlp: $*" >&2; exit 1; }
say() { echo "corenlp: $*"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# The cache is complete for one pom.xml: .complete holds its checksum.
pom_sum() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

fetch() {
  local sum; sum=$(pom_sum)
  [ -f "$HOME_DIR/.complete" ] && [ "$(cat "$HOME_DIR/.complete")" = "$sum" ] && return 0
  command -v mvn >/dev/null 2>&1 || die "no Maven found: it resolves CoreNLP from Maven Central (apt-get install maven)"
  local mvnopts=(-q -B -f "$HERE/pom.xml" -Dcorenlp.version="$CORENLP_VERSION")
  if [ -f "$HOME_DIR/.complete" ]; then
    # Filled for an older pom.xml: only models are added, and nothing is removed, since a
    # running server reads its code jars and models from here.
    say "adding the NER models pom.xml names since the cache was filled, into $HOME_DIR"
  else
    say "resolving Stanford CoreNLP $CORENLP_VERSION and its German, English, French and Spanish NER models into $HOME_DIR"
    rm -rf "$HOME_DIR"; mkdir -p "$HOME_DIR"
    mvn "${mvnopts[@]}" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$HOME_DIR/lib" \
      || die "download of CoreNLP $CORENLP_VERSION failed (is Maven Central reachable?)"
  fi
  # The model jars are large (~1.2 GB); only the NER files are unpacked. Markers (one set per
  # pom.xml, so a changed list is unpacked again) stay in the cache, not in the work tree.
  mvn "${mvnopts[@]}" dependency:unpack -DoutputDirectory="$HOME_DIR/models" \
      -Dmarkers.dir="$HOME_DIR/markers-$sum" \
    || die "download of the CoreNLP model jars failed (is Maven Central reachable?)"
  echo "$sum" > "$HOME_DIR/.complete"
}

# Loads both models with one small request each, so the first article is not slowed by a
# multi-second model load. The properties mirror newsflow.enrich.corenlp.
warm_up() {
  local de en fr es
  de='{"annotators":"tokenize,ssplit,mwt,ner","enforceRequirements":"false","tokenize.language":"de","tokenize.postProcessor":"edu.stanford.nlp.international.german.process.GermanTokenizerPostProcessor","mwt.mappingFile":"edu/stanford/nlp/models/mwt/german/german-mwt.tsv","ner.model":"edu/stanford/nlp/models/ner/german.distsim.crf.ser.gz","ner.applyNumericClassifiers":"false","ner.applyFineGrained":"false","ner.useSUTime":"false","ner.buildEntityMentions":"false","outputFormat":"conll"}'
  en='{"annotators":"tokenize,ssplit,ner","enforceRequirements":"false","tokenize.language":"en","ner.model":"edu/stanford/nlp/models/ner/english.all.3class.distsim.crf.ser.gz","ner.applyNumericClassifiers":"false","ner.applyFineGrained":"false","ner.useSUTime":"false","ner.buildEntityMentions":"false","outputFormat":"conll"}'
  fr='{"annotators":"tokenize,ssplit,ner","enforceRequirements":"false","tokenize.language":"fr","ner.model":"edu/stanford/nlp/models/ner/french-wikiner-4class.crf.ser.gz","ner.applyNumericClassifiers":"false","ner.applyFineGrained":"false","ner.useSUTime":"false","ner.buildEntityMentions":"false","outputFormat":"conll"}'
  es='{"annotators":"tokenize,ssplit,ner","enforceRequirements":"false","tokenize.language":"es","ner.model":"edu/stanford/nlp/models/ner/spanish.ancora.distsim.s512.crf.ser.gz","ner.applyNumericClassifiers":"false","ner.applyFineGrained":"false","ner.useSUTime":"false","ner.buildEntityMentions":"false","outputFormat":"conll"}'
  curl -fsS --max-time 120 --url-query "properties=$de" --data-binary "Angela Merkel besuchte Siemens in Berlin." \
      "http://127.0.0.1:$CORENLP_PORT/" >/dev/null \
    && curl -fsS --max-time 120 --url-query "properties=$en" --data-binary "Angela Merkel visited Siemens in Berlin." \
      "http://127.0.0.1:$CORENLP_PORT/" >/dev/null \
    && curl -fsS --max-time 180 --url-query "properties=$fr" --data-binary "Angela Merkel a visité Siemens à Berlin." \
      "http://127.0.0.1:$CORENLP_PORT/" >/dev/null \
    && curl -fsS --max-time 120 --url-query "properties=$es" --data-binary "Angela Merkel visitó Siemens en Berlín." \
      "http://127.0.0.1:$CORENLP_PORT/" >/dev/null
}

up() {
  if pid_alive "$PIDF"; then
    # Models pom.xml added since the cache was filled land on the running server's class path.
    fetch
    say "already running (pid $(cat "$PIDF")) on 127.0.0.1:$CORENLP_PORT"; return 0
  fi
  command -v java >/dev/null 2>&1 || die "no Java found: install a JDK 17+ (apt-get install openjdk-17-jdk-headless)"
  port_busy "$CORENLP_PORT" && die "port $CORENLP_PORT is in use by another program: set CORENLP_PORT"
  fetch
  mkdir -p "$VAR_DIR"
  say "starting CoreNLP $CORENLP_VERSION on 127.0.0.1:$CORENLP_PORT (log: $VAR_DIR/server.log)"
  # Models are read from the unpacked folder on the class path, ahead of the code jars.
  # Parallel GC, not G1: with the models loaded the old generation stays above G1's marking
  # threshold (~85% occupied on a 1g heap), which kept its concurrent marking running after
  # nearly every young collection (~12 ms of CPU per article,
  # a quarter of the server's; README, "Enrichment"). Parallel GC never marks concurrently;
  # what a request allocates dies young. The NER answers are the same. A young generation of
  # 160 MB leaves the old generation ~85% of the heap: with the parallel GC's default split (old = 2/3)
  # a server holding two NER settings per language (the enrich bench with both commits on one
  # server) ran out of old generation and did nothing but full collections.
  nohup java -Xms256m -Xmx"$CORENLP_HEAP" -XX:+UseParallelGC -Xmn160m -Djava.awt.headless=true \
    -cp "$HOME_DIR/models:$HOME_DIR/lib/*" edu.stanford.nlp.pipeline.StanfordCoreNLPServer \
    -port "$CORENLP_PORT" -threads "$CORENLP_THREADS" -timeout 30000 -quiet true \
    >"$VAR_DIR/server.log" 2>&1 &
  echo $! > "$PIDF"
  for _ in $(seq 1 120); do
    if port_busy "$CORENLP_PORT"; then
      warm_up || { tail -n 30 "$VAR_DIR/server.log" >&2; down; die "the server answered but could not load the NER models"; }
      say "up"; return 0
    fi
    pid_alive "$PIDF" || { tail -n 30 "$VAR_DIR/server.log" >&2; die "the server exited during start-up"; }
    sleep 0.5
  done
  die "the server did not open port $CORENLP_PORT within 60 s: see $VAR_DIR/server.log"
}

down() {
  if ! pid_alive "$PIDF"; then rm -f "$PIDF"; say "not running"; return 0; fi
  local pid; pid=$(cat "$PIDF")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$PIDF"; say "stopped"
}

status() {
  if pid_alive "$PIDF"; then echo "corenlp        running  pid $(cat "$PIDF")  http://127.0.0.1:$CORENLP_PORT"
  else echo "corenlp        stopped"; fi
}

case "${1:-status}" in
  fetch) fetch ;;
  up) up ;;
  down) down ;;
  status) status ;;
  *) die "usage: corenlp.sh fetch|up|down|status" ;;
esac
