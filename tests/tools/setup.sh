#!/usr/bin/env bash
# Installs the test tools into the repo-local, git-ignored folder .tools/:
#   .tools/node  kinesis-mock (npm kinesis-local), from package-lock.json
#   .tools/venv  Python tools (aws-kinesis-agg, boto3, moto[server]), from requirements.txt
# and, from Debian's packages (as root), what the JVM and JRuby tests need: gradle,
# liblog4j2-java, jruby and ruby-rspec.
#
# and .tools/jruby: jruby-complete jars (Maven Central) of the JRuby lines other Logstash
# releases bundle, to run the gem's specs on them.
#
# and .tools/cargo/bin/cargo-zigbuild (crates.io, unless that version is on PATH) with zig from
# the ziglang wheel in .tools/venv: they build the shipped native library for glibc 2.17.
#
# Usage: tests/tools/setup.sh [system] [node] [python] [jruby] [zig]     (no argument: all)
#
# Idempotent: each part records a checksum of its pin files and is skipped
# while they are unchanged and the install is intact.
set -euo pipefail

TOOLS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TOOLS_SRC/../.." && pwd)"
TOOLS_DIR="$REPO_ROOT/.tools"
NODE_DIR="$TOOLS_DIR/node"
VENV_DIR="$TOOLS_DIR/venv"

log() { printf 'setup: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Checksum of the given pin files; a changed pin means a reinstall.
pins_checksum() { cat "$@" | sha256sum | cut -d' ' -f1; }

install_node_tools() {
  command -v npm >/dev/null || die "npm not found (install Node.js 18+ with npm)"
  local stamp="$NODE_DIR/.pins.sha256"
  local wanted
  wanted="$(pins_checksum "$TOOLS_SRC/package.json" "$TOOLS_SRC/package-lock.json")"
  if [[ -f "$NODE_DIR/node_modules/kinesis-local/main.js" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    log "node tools up to date ($NODE_DIR)"
    return
  fi
  log "installing node tools into $NODE_DIR (npm ci)"
  mkdir -p "$NODE_DIR"
  rm -f "$stamp"
  cp "$TOOLS_SRC/package.json" "$TOOLS_SRC/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
  [[ -f "$NODE_DIR/node_modules/kinesis-local/main.js" ]] || die "kinesis-local missing after npm ci"
  echo "$wanted" >"$stamp"
  log "node tools installed"
}

# Debian ships venv/ensurepip in a separate package; install it only when
# venv creation actually fails, and refresh the package lists only if the
# install fails without them.
install_python_venv_package() {
  command -v apt-get >/dev/null || die "python3 cannot create a venv and apt-get is not available"
  [[ "$(id -u)" == 0 ]] || die "python3 cannot create a venv; run as root or install python3-venv"
  log "installing python3-venv with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q python3-venv >&2; then
    log "apt-get install failed; updating package lists and retrying"
    apt-get update -q >&2
    apt-get install -y -q python3-venv >&2
  fi
}

# A venv is usable when its interpreter still runs and it has pip (a venv
# created without ensurepip has no pip and no way to get it).
venv_usable() {
  [[ -x "$VENV_DIR/bin/pip" ]] && "$VENV_DIR/bin/python" -c '' 2>/dev/null
}

create_venv() {
  log "creating Python venv $VENV_DIR"
  rm -rf "$VENV_DIR"
  if python3 -m venv "$VENV_DIR" >&2 && venv_usable; then
    return
  fi
  rm -rf "$VENV_DIR"
  install_python_venv_package
  python3 -m venv "$VENV_DIR" >&2
  venv_usable || die "venv at $VENV_DIR has no working pip"
}

install_python_tools() {
  command -v python3 >/dev/null || die "python3 not found"
  local stamp="$VENV_DIR/.pins.sha256"
  local wanted
  wanted="$(pins_checksum "$TOOLS_SRC/requirements.txt")"
  if venv_usable && [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    log "python tools up to date ($VENV_DIR)"
    return
  fi
  venv_usable || create_venv
  rm -f "$stamp"
  log "installing python tools into $VENV_DIR (pip, about a minute on a fresh venv)"
  "$VENV_DIR/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    -r "$TOOLS_SRC/requirements.txt" >&2
  "$VENV_DIR/bin/python" -c 'import aws_kinesis_agg, six, boto3, moto' \
    || die "python tools do not import after install"
  echo "$wanted" >"$stamp"
  log "python tools installed"
}

# Debian packages, each checked by a file it installs.
SYSTEM_PACKAGES=(
  "gradle:/usr/bin/gradle"
  "liblog4j2-java:/usr/share/java/log4j-core.jar"
  "jruby:/usr/bin/jruby"
  "ruby-rspec:/usr/bin/rspec"
)

install_system_packages() {
  local missing=() entry
  for entry in "${SYSTEM_PACKAGES[@]}"; do
    [[ -e "${entry#*:}" ]] || missing+=("${entry%%:*}")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "system packages present"
    return
  fi
  command -v apt-get >/dev/null || die "missing ${missing[*]} and apt-get is not available"
  [[ "$(id -u)" == 0 ]] || die "missing ${missing[*]}: run as root or install them"
  log "installing ${missing[*]} with apt-get (a minute or two)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    log "apt-get install failed; updating package lists and retrying"
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

# JRuby 9.2 (Ruby 2.5, Logstash 7.17), 9.4 (Logstash 8.10-9.3) and 10.0 (Logstash 9.4+).
JRUBY_VERSIONS=(9.2.21.0 9.4.13.0 10.0.2.0)

install_jruby_jars() {
  local version jar
  for version in "${JRUBY_VERSIONS[@]}"; do
    jar="$TOOLS_DIR/jruby/jruby-complete-$version.jar"
    if [[ -f "$jar" ]]; then
      log "jruby-complete $version present"
      continue
    fi
    command -v mvn >/dev/null || die "mvn not found (needed to fetch jruby-complete $version)"
    log "fetching jruby-complete $version from Maven Central"
    mvn -q -B dependency:copy -Dartifact="org.jruby:jruby-complete:$version" \
      -DoutputDirectory="$TOOLS_DIR/jruby" >&2
    [[ -f "$jar" ]] || die "jruby-complete $version missing after mvn dependency:copy"
  done
}

# cargo-zigbuild, pinned; zig itself is the ziglang wheel of requirements.txt (part python).
CARGO_ZIGBUILD_VERSION=0.24.1

install_zigbuild() {
  local candidate
  for candidate in "$TOOLS_DIR/cargo/bin/cargo-zigbuild" "$(command -v cargo-zigbuild || true)"; do
    if [[ -n "$candidate" && -x "$candidate" ]] &&
      [[ "$("$candidate" --version 2>/dev/null)" == "cargo-zigbuild $CARGO_ZIGBUILD_VERSION" ]]; then
      log "cargo-zigbuild $CARGO_ZIGBUILD_VERSION present ($candidate)"
      return
    fi
  done
  command -v cargo >/dev/null || die "cargo not found (needed to install cargo-zigbuild)"
  log "installing cargo-zigbuild $CARGO_ZIGBUILD_VERSION into $TOOLS_DIR/cargo (cargo install, a few minutes)"
  cargo install --quiet --locked --version "$CARGO_ZIGBUILD_VERSION" --root "$TOOLS_DIR/cargo" cargo-zigbuild >&2
  [[ "$("$TOOLS_DIR/cargo/bin/cargo-zigbuild" --version)" == "cargo-zigbuild $CARGO_ZIGBUILD_VERSION" ]] \
    || die "cargo-zigbuild $CARGO_ZIGBUILD_VERSION missing after cargo install"
}

install_zig() {
  install_python_tools
  "$VENV_DIR/bin/python" -m ziglang version >/dev/null || die "zig (ziglang wheel) does not run from $VENV_DIR"
  install_zigbuild
}

main() {
  local parts=("$@")
  [[ ${#parts[@]} -gt 0 ]] || parts=(system node python jruby zig)
  mkdir -p "$TOOLS_DIR"
  # Serialise concurrent runs (e.g. parallel test jobs) on the same checkout.
  exec 9>"$TOOLS_DIR/.setup.lock"
  flock 9
  local part
  for part in "${parts[@]}"; do
    case "$part" in
      system) install_system_packages ;;
      node) install_node_tools ;;
      jruby) install_jruby_jars ;;
      python) install_python_tools ;;
      zig) install_zig ;;
      *) die "unknown part '$part' (expected: system, node, python, jruby, zig)" ;;
    esac
  done
  log "done"
}

main "$@"
