#!/usr/bin/env bash
# The soak (not part of the test command): mixed traffic across three streams with a
# random fault every 20 s for SOAK_MINUTES (default 10) minutes; fails if RSS, threads or file
# descriptors grow, or any event is unaccounted for.
#
#   tests/reliability/soak.sh            # SOAK_MINUTES=10
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exec tests/reliability/run.sh --only soak --soak-minutes "${SOAK_MINUTES:-10}"
