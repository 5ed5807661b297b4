#!/usr/bin/env bash
# CI, container stage (called by .ci/run after the unit and multi-process tests, once
# `pnpm install` has run): builds the image without any registry and runs the container tests and
# the compose smoke test against it.
#
#   1. installs docker.io (the engine: dockerd), docker-compose, debootstrap, iproute2 with apt-get where missing;
#   2. starts dockerd if it is not running (and stops it at the end if it started it);
#   3. scripts/offline-base-image.sh  — node:24-bookworm-slim, pulled or built locally;
#   4. node scripts/build.ts          — dist/ bundles;
#   5. docker build -t tributary:dev -f docker/Dockerfile .
#   6. vitest run --project containers (TESTCONTAINERS_RYUK_DISABLED=true: no image to pull), the
#      secure compose variant (compose.secure.yaml) included;
#   7. scripts/compose-smoke.sh       — the real compose.yaml;
#   8. pnpm test:docs:docker          — the README's Docker block as written (with .ci/bin's
#                                       `docker compose` shim where only docker-compose 1.29 is);
#   9. scripts/chaos-docker-ci.sh     — chaos on the compose cluster.
# Containers, networks and volumes it created are removed on every exit (trap).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
# The pinned Node 24 (root devDependency `node`) first on PATH, as under `pnpm run`.
export PATH="$ROOT/node_modules/.bin:$PATH"

started=$SECONDS
step() { printf '\n=== [docker.sh %3ds] %s\n' $((SECONDS - started)) "$*"; }

SUDO=()
[ "$(id -u)" = 0 ] || SUDO=(sudo)

# --- 1. tools ------------------------------------------------------------------------------
missing=()
# The engine, not just a client: a machine may carry a docker client alone (/usr/local/bin/docker).
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v tc >/dev/null || missing+=(iproute2)
command -v nsenter >/dev/null || missing+=(util-linux)
command -v iptables >/dev/null || missing+=(iptables)
if [ ${#missing[@]} -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. dockerd ----------------------------------------------------------------------------
DOCKERD_PID=
if ! docker info >/dev/null 2>&1; then
  step "starting dockerd"
  "${SUDO[@]}" dockerd >/tmp/tributary-ci-dockerd.log 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { tail -n 40 /tmp/tributary-ci-dockerd.log >&2; echo "dockerd did not start" >&2; exit 1; }
fi

cleanup() {
  local rc=$?
  step "cleanup"
  local project
  for project in tributary-smoke:compose.yaml tributary-readme:compose.yaml tributary-secure-test:compose.secure.yaml; do
    if docker-compose version >/dev/null 2>&1; then
      docker-compose -p "${project%%:*}" -f "${project#*:}" down -v --remove-orphans >/dev/null 2>&1 || true
    else
      docker compose -p "${project%%:*}" -f "${project#*:}" down -v --remove-orphans >/dev/null 2>&1 || true
    fi
  done
  # What the container tests started (labelled by the test helper and by testcontainers).
  local ids
  ids="$(docker ps -aq --filter label=tributary.test 2>/dev/null; docker ps -aq --filter label=org.testcontainers 2>/dev/null)"
  [ -z "$ids" ] || docker rm -fv $(echo "$ids" | sort -u) >/dev/null 2>&1 || true
  local nets
  nets="$(docker network ls -q --filter label=org.testcontainers 2>/dev/null)"
  [ -z "$nets" ] || docker network rm $nets >/dev/null 2>&1 || true
  if [ -n "$DOCKERD_PID" ]; then
    step "stopping the dockerd this script started"
    "${SUDO[@]}" kill "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
  printf '\n=== docker.sh finished in %ds (exit %d)\n' $((SECONDS - started)) "$rc"
}
trap cleanup EXIT

# --- 3-5. image ----------------------------------------------------------------------------
step "base image (scripts/offline-base-image.sh)"
"${SUDO[@]}" scripts/offline-base-image.sh

step "bundle (node scripts/build.ts)"
node scripts/build.ts

step "docker build -t tributary:dev"
docker build -q -t tributary:dev -f docker/Dockerfile .
docker image ls tributary:dev

# --- 6. container tests --------------------------------------------------------------------
step "container tests (vitest --project containers)"
TESTCONTAINERS_RYUK_DISABLED=true vitest run --project containers

# --- 7. compose smoke ----------------------------------------------------------------------
step "compose smoke test (scripts/compose-smoke.sh)"
scripts/compose-smoke.sh

# The README writes Compose v2's `docker compose`; Debian's docker.io has no such plugin, so where
# it is missing, .ci/bin/docker turns `docker compose` into docker-compose for this test alone.
step "the README's Docker block (pnpm test:docs:docker)"
if docker compose version >/dev/null 2>&1; then
  pnpm test:docs:docker
else
  PATH="$ROOT/.ci/bin:$PATH" pnpm test:docs:docker
fi

step "chaos on the compose cluster (scripts/chaos-docker-ci.sh)"
scripts/chaos-docker-ci.sh
