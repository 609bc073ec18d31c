#!/bin/sh
# Runs the gem's specs with Debian's JRuby and RSpec:
#   apt-get install -y jruby ruby-rspec
#   ./run-specs.sh [rspec arguments]
# Another JRuby can be used with JRUBY="java -jar jruby-complete.jar".
set -eu
cd "$(dirname "$0")"
export GEM_PATH="${GEM_PATH:-/usr/share/rubygems-integration/all}"
exec ${JRUBY:-jruby} -S rspec "$@"
