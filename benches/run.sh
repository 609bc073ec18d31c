#!/usr/bin/env bash
# Benchmarks. Each prints its figures (with the load average next to them) and writes
# docs/benchmarks/results/<name>.json; `report` turns those into the README table and
# docs/benchmarks/results.png.
#
#   benches/run.sh engine     engine: records/s, CPU per record against the floor, fill, latency, RSS
#   benches/run.sh profile    perf profile of the engine -> docs/benchmarks/engine-profile.txt
#   benches/run.sh bridge     records/s from JRuby through the JNI bridge (tests/jni/bench.sh)
#   benches/run.sh pipeline   plugin + json codec vs json codec alone, 200 B and 2 KB events
#   benches/run.sh rtt        20 ms RTT: at_least_once vs at_most_once, workers 2/8/32 x batch 125/1000
#   benches/run.sh kpl        the real KPL vs this producer over TLS: records/s, CPU, peak RSS
#                             (BENCH_OUTSTANDING: records without an outcome, default 100000)
#   benches/run.sh report     README table + plot from the saved results
#   benches/run.sh all        all of the above, in that order
#
# Environment: BENCH_RUNS (3), BENCH_RECORDS, BENCH_SECONDS / BENCH_WARMUP (pipeline, rtt).
# Installs what it needs first (tests/tools/setup.sh: venv with matplotlib, zig, jruby, gradle).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python=.tools/venv/bin/python
usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -eq 1 ]] || usage

needs_tools() { tests/tools/setup.sh system python zig >&2; }
# The gem, the bridge jar, the shipped native library and the test server, built once.
needs_build() { gradle -p . --no-daemon -q gem; }

run() {
  case "$1" in
    engine | profile) needs_tools; "$python" benches/engine.py "$1" ;;
    bridge) needs_tools; echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"; tests/jni/bench.sh
      echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" ;;
    pipeline | rtt) needs_tools; needs_build; "$python" benches/pipeline.py "$1" ;;
    kpl) needs_tools; needs_build; "$python" benches/kpl_compare.py ;;
    report) needs_tools; "$python" benches/report.py ;;
    all) for name in engine profile bridge pipeline rtt kpl report; do run "$name"; done ;;
    *) usage ;;
  esac
}

run "$1"
