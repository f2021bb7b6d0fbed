#!/usr/bin/env bash
# Robustness: no request may make the server fail. Fuzz the JSON API from its own OpenAPI
# document with schemathesis, once as an operator (reporter) and once as the centre
# (analyst), and fail on any 5xx answer. Needs the debug binary built by the test step
# (target/debug/kizuki).
# Bounded: a fixed number of examples per operation and a fixed seed, so a run takes a few
# minutes and a failure reproduces. Idempotent: the venv under target/ is reused.
#
# Environment: ST_MAX_EXAMPLES (default 100), ST_SEED (default 6007), ST_PORT (default 18087),
# ST_REPORT_DIR (an absolute path; default target/schemathesis-report) for the JUnit/NDJSON
# reports.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

st_version=4.32.5
venv=target/schemathesis-venv
bin=target/debug/kizuki
max_examples=${ST_MAX_EXAMPLES:-100}
seed=${ST_SEED:-6007}
port=${ST_PORT:-18087}
report_dir=${ST_REPORT_DIR:-$repo/target/schemathesis-report}

[ -x "$bin" ] || { echo "schemathesis: $bin is missing; build it first (cargo test builds it)"; exit 1; }

# The venv is kept between runs; reinstall only when the pinned version is not the one there.
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "version $st_version\$"; then
  rm -rf "$venv"
  # Debian's python3 needs python3-venv (installed by .ci/run) for this.
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$st_version"
fi
"$venv/bin/schemathesis" --version

data=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$data"
}
trap cleanup EXIT

"$bin" --data-dir "$data" init >/dev/null 2>&1
# The token is the only line on stdout; the notice goes to stderr.
token_for() { "$bin" --data-dir "$data" token create --email "$1" --label schemathesis 2>/dev/null | grep -m1 '^kzk_'; }
operator_token=$(token_for reporter@railway.example.jp)
centre_token=$(token_for analyst@centre.example.jp)

# The fair limits would answer a fuzzer 429 after a few hundred calls and so hide
# the handlers behind them; they are tested on their own in the integration suite.
KIZUKI_LIMITS_ENABLED=false "$bin" --data-dir "$data" serve --addr "127.0.0.1:$port" \
  >"$data/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 60); do
  curl -fsS -o /dev/null "$base/api/v1/openapi.json" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$data/server.log"; echo "schemathesis: the server exited"; exit 1; }
  sleep 1
done

rm -rf "$report_dir"
mkdir -p "$report_dir"
status=0
# Two passes for each role: generated values only, then with path parameters and If-Match
# drawn mostly from existing records (.ci/schemathesis.toml).
for run in operator:generated centre:generated operator:existing centre:existing; do
  who=${run%%:*} values=${run##*:}
  if [ "$who" = operator ]; then token=$operator_token; else token=$centre_token; fi
  config=()
  [ "$values" = existing ] && config=(--config-file "$repo/.ci/schemathesis.toml")
  echo "--- schemathesis as the $who, $values values ($max_examples examples per operation, seed $seed)"
  # not_a_server_error is the goal (zero 5xx); response_schema_conformance holds every
  # documented answer to its schema. Status-code, content-type and header conformance hold
  # the document to every status the API gives (each operation lists its 4xx, all in the
  # JSON error shape: api::error_doc). A check that stops an operation at its first finding
  # would hide the 5xx behind it, hence --continue-on-failure.
  # Run from the report dir: schemathesis keeps a cache in ./.schemathesis, which belongs
  # there (cleared with the reports) rather than in the work tree.
  (cd "$report_dir" && "$repo/$venv/bin/schemathesis" "${config[@]}" run "$base/api/v1/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance,response_headers_conformance \
    --continue-on-failure \
    --phases examples,coverage,fuzzing \
    --max-examples "$max_examples" --seed "$seed" \
    --generation-database none \
    --request-timeout 30 \
    --no-color \
    --report junit,ndjson --report-dir . \
    --report-junit-path "$who-$values.xml" --report-ndjson-path "$who-$values.ndjson") \
    || status=1
done

# The figures (requests, answers by class, every 5xx) from the runs' own reports.
python3 .ci/schemathesis-summary.py "$report_dir"/{operator,centre}-{generated,existing}.ndjson || status=1

# A 5xx leaves its cause in the server log (the client sees none); show it on failure.
if [ "$status" != 0 ]; then
  echo "--- server log (errors)"
  grep -iE 'error|panic' "$data/server.log" | tail -40 || true
  echo "schemathesis found problems (see above; reports in $report_dir)"
fi
exit "$status"
