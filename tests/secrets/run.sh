#!/usr/bin/env bash
# Secrets never printed: runs the packaged plugin (JRuby, real log4j2 from Debian's
# liblog4j2-java) at DEBUG for the plugin's logger and the engine's (kinesis.producer,
# kinesis.producer.sdk), with every secret option set to a distinctive value, against moto
# (STS) and the project's Kinesis test server: one pipeline delivers through a proxy with
# credentials and assumed roles, the others fail (STS unreachable, missing stream, lone key).
# Fails if any secret, or the proxy's Basic credentials, appears in anything printed, or if
# the run did not print what it should (engine and SDK debug lines, the failures).
#
#   tests/secrets/run.sh
#
# Environment: SECRETS_GEM=path to test a built gem without building one,
# SECRETS_LOG_LEVEL (default DEBUG; TRACE also works).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
repo=$(pwd)
level=${SECRETS_LOG_LEVEL:-DEBUG}
python=$repo/.tools/venv/bin/python
target_dir=${CARGO_TARGET_DIR:-$repo/target}

tests/tools/setup.sh system python

work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  tests/peers/moto.sh stop --state "$work/moto" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

if [[ -n "${SECRETS_GEM:-}" ]]; then
  gem_file=$SECRETS_GEM
else
  gradle -p "$repo" --no-daemon -q gem
  version=$(sed -n 's/^ *s\.version *= *"\([^"]*\)".*/\1/p' ruby/logstash-output-kinesis.gemspec)
  gem_file=build/logstash-output-kinesis-$version-java.gem
fi
jruby -S gem install --local --ignore-dependencies --no-document --install-dir "$work/gems" "$gem_file" >/dev/null
export GEM_PATH=$work/gems:/usr/share/rubygems-integration/all
unset GEM_HOME

moto=$(tests/peers/moto.sh start --state "$work/moto" | sed -n 's/^MOTO_ENDPOINT=//p')
"$target_dir/release/kinesis-test-server" --port-file "$work/port" --stream secrets:2 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.1; done
[[ -s "$work/port" ]] || { echo "kinesis-test-server did not start" >&2; exit 1; }
kinesis="http://127.0.0.1:$(cat "$work/port")"

# Distinctive values, new each run, in the forms each option accepts.
tag=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
cat >"$work/secrets.json" <<EOF
{"access_key": "AKIASECRETACCESS$tag", "secret_key": "secret-key-$tag/Zq+9",
 "metrics_access_key": "AKIASECRETMETRICS$tag", "metrics_secret_key": "metrics-secret-$tag/Yw+8",
 "external_id": "external-id-$tag", "proxy_password": "proxy-pw-$tag"}
EOF

echo "== plugin at $level against moto ($moto) and kinesis-test-server ($kinesis)"
status=0
CLASSPATH=/usr/share/java/log4j-api.jar:/usr/share/java/log4j-core.jar \
  timeout 300 jruby -J-Dlog4j.configurationFile="$repo/tests/secrets/log4j2.properties" \
  -J-Dsecrets.log.level="$level" tests/secrets/secrets_runner.rb \
  --moto "$moto" --kinesis "$kinesis" --secrets "$work/secrets.json" >"$work/out.log" 2>&1 || status=$?
printed=$(wc -l <"$work/out.log")
echo "   $printed lines printed (exit $status)"

checked=0
"$python" - "$work/secrets.json" "$work/out.log" "$status" <<'PY' || checked=$?
import base64, json, re, sys, urllib.parse
secrets = json.load(open(sys.argv[1]))
text = open(sys.argv[2], encoding="utf-8", errors="replace").read()
failures = []
forms = {}
for name, value in secrets.items():
    forms[name] = value
    forms[name + " (URL-encoded)"] = urllib.parse.quote(value, safe="")
forms["proxy Basic credentials"] = base64.b64encode(f"shipper:{secrets['proxy_password']}".encode()).decode()
for name, value in forms.items():
    count = text.count(value)
    if count:
        line = next(l for l in text.splitlines() if value in l)
        at = line.index(value)
        failures.append(f"{name} printed {count} times, e.g.: {line[:100]} ... {line[max(at - 200, 100):at + 100]}")
# The run must have printed what it is expected to print, or finding nothing proves nothing.
expected = {
    "exit status 0": sys.argv[3] == "0",
    "DEBUG lines of kinesis.producer": re.search(r"\[DEBUG\]\[kinesis\.producer\]\[", text),
    "DEBUG lines of kinesis.producer.sdk": re.search(r"\[DEBUG\]\[kinesis\.producer\.sdk\]\[", text),
    "DEBUG config lines of the plugin": re.search(r"\[DEBUG\]\[logstash\.outputs\.kinesis\]\[[^]]*\] config ", text),
    "all 50 events delivered": "delivered: delivered 50, failed 0" in text,
    "tunnels through the proxy": "delivered: proxy tunnels 0" not in text and "delivered: proxy tunnels" in text,
    "register failing on STS": re.search(r"sts-down: register failed: .*assuming role \S+ through STS at \S+ failed: STS (is unreachable|did not answer in time)", text),
    "events failing on the missing stream": "no-stream: delivered 0, failed 5" in text and "ResourceNotFoundException" in text,
    "lone key refused": "lone-key: register failed" in text and "static credentials need both" in text,
    "the run finished": "== done" in text,
}
failures += [f"missing from the output: {what}" for what, seen in expected.items() if not seen]
if failures:
    print("   FAIL:\n     " + "\n     ".join(failures))
    sys.exit(1)
print(f"   none of {len(forms)} secret forms printed; every expected line present")
PY
if [[ $checked -ne 0 ]]; then
  # Kept for reading.
  mkdir -p build
  cp "$work/out.log" build/secrets-test-output.log
  echo "   output: build/secrets-test-output.log"
  exit 1
fi
