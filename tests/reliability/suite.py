#!/usr/bin/env python3
"""The reliability suite: the installed gem in a multi-worker pipeline against the
fault-injecting test server, under faults, crashes and bad input and configuration. Each
scenario prints a table (events in, delivered, dead-lettered, dropped, duplicates,
unaccounted, peak RSS) and its checks; the suite fails on any unaccounted event or failed check.

Usage (see run.sh and soak.sh, which build and install the gem first):
  suite.py --gem-path DIR --server BIN --work DIR [--only NAME,...] [--list] [--soak-minutes M]
"""

import argparse
import os
import random
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accounting import summary_table  # noqa: E402
import scenarios  # noqa: E402


class Context:
    """What every scenario gets: where to write, which gem and server, and the dice."""

    def __init__(self, args):
        self.work = args.work
        self.gem_path = args.gem_path
        self.server_binary = args.server
        self.jruby_opts = args.jruby_opts
        self.seed = args.seed
        self.rng = random.Random(args.seed)
        self.soak_minutes = args.soak_minutes


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gem-path", required=True, help="GEM_PATH holding the installed gem")
    parser.add_argument("--server", required=True, help="the kinesis-test-server binary")
    parser.add_argument("--work", required=True, help="directory for logs and state")
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--soak-minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("RELIABILITY_SEED", time.time_ns() % 100000)))
    # A fixed, pre-touched heap (as Logstash runs with -Xms = -Xmx) keeps RSS steady, so what
    # moves it is native memory.
    parser.add_argument("--jruby-opts", default=os.environ.get(
        "RELIABILITY_JRUBY_OPTS", "-J-Xms512m -J-Xmx512m -J-XX:+AlwaysPreTouch"))
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args()

    chosen = [name for name in args.only.split(",") if name]
    table = [(name, f) for name, f, in_ci in scenarios.ALL if (name in chosen if chosen else in_ci)]
    unknown = set(chosen) - {name for name, _, _ in scenarios.ALL}
    if args.list or unknown:
        for name, f, in_ci in scenarios.ALL:
            print(f"{name:<14} {'' if in_ci else '(not in CI) '}{f.__doc__.strip().splitlines()[0]}")
        sys.exit(2 if unknown else 0)

    ctx = Context(args)
    print(f"reliability suite: seed {ctx.seed} (RELIABILITY_SEED={ctx.seed} repeats the random choices), "
          f"JRUBY_OPTS={ctx.jruby_opts!r}")
    accounts, failures = [], []
    suite_started = time.monotonic()
    for name, scenario in table:
        started = time.monotonic()
        print(f"\n== {name}: {scenario.__doc__.strip().splitlines()[0]}", flush=True)
        try:
            results = scenario(ctx)
        except Exception as error:  # noqa: BLE001 -- a broken scenario is a failure to report, not a crash
            print(f"  [FAIL] scenario raised:\n{traceback.format_exc()}")
            # The last lines of a long log may be all that is read: say there what went wrong.
            failures.append(f"{name} (raised {type(error).__name__}: {str(error).strip()[:2000]})")
            continue
        for account in results:
            print(f"-- {account.name}\n{account.table()}")
            accounts.append(account)
            if not account.ok:
                failures.append(account.name)
        print(f"   ({name}: {time.monotonic() - started:.0f}s)", flush=True)

    print(f"\n== summary ({time.monotonic() - suite_started:.0f}s)\n{summary_table(accounts)}")
    if failures:
        print(f"\n== FAILED: {', '.join(failures)}")
        sys.exit(1)
    print("\n== every event accounted for; all checks passed")


if __name__ == "__main__":
    main()
