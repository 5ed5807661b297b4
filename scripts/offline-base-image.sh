#!/usr/bin/env bash
# Makes sure the base image docker/Dockerfile builds FROM (node:24-bookworm-slim) exists locally,
# on machines that cannot pull from a registry (CI here has none).
#
#   - If the image is already present (pulled, or built by an earlier run): nothing to do.
#   - Else: a stand-in is built from Debian bookworm (debootstrap --variant=minbase) plus this
#     repository's pinned Node binary (node_modules/.bin/node, the root devDependency `node`),
#     with the `node` user (uid/gid 1000) the official image has, and imported as
#     node:24-bookworm-slim. The rootfs tarball is cached under $TRIBUTARY_CACHE_DIR
#     (default /var/cache/tributary) so reruns take seconds, not minutes.
#
# With internet access, prefer the real image: `docker pull node:24-bookworm-slim`.
# Needs root (debootstrap, docker), debootstrap, and network access to deb.debian.org on the
# first run only.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${NODE_IMAGE:-node:24-bookworm-slim}"
CACHE_DIR="${TRIBUTARY_CACHE_DIR:-/var/cache/tributary}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
ROOTFS_TAR="$CACHE_DIR/debian-$SUITE-minbase-rootfs.tar"

log() { printf 'offline-base-image: %s\n' "$*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE is present; nothing to do"
  exit 0
fi

is_elf() { [ -f "$1" ] && [ "$(head -c 4 "$1" | tail -c 3)" = ELF ]; }
NODE_BIN="$(readlink -f node_modules/.bin/node 2>/dev/null || true)"
# node_modules/.bin/node may be a shell shim; the real binary lives in the `node` package.
if ! is_elf "$NODE_BIN"; then
  NODE_BIN="$(find -L node_modules/node -path '*/bin/node' -type f 2>/dev/null | while read -r f; do is_elf "$f" && echo "$f"; done | head -n 1)"
fi
if [ -z "$NODE_BIN" ] || [ ! -x "$NODE_BIN" ]; then
  log "no pinned node binary under node_modules (run pnpm install first)"
  exit 1
fi
NODE_VERSION="$("$NODE_BIN" --version)"
case "$NODE_VERSION" in
  v24.*) ;;
  *) log "pinned node is $NODE_VERSION, expected v24.x"; exit 1 ;;
esac

WORK="$(mktemp -d /tmp/tributary-base.XXXXXX)"
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT

mkdir -p "$CACHE_DIR"
if [ ! -s "$ROOTFS_TAR" ]; then
  command -v debootstrap >/dev/null || { log "debootstrap is not installed (apt-get install debootstrap)"; exit 1; }
  log "debootstrap $SUITE (minbase) from $MIRROR; cached at $ROOTFS_TAR"
  debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -n 30 "$WORK/debootstrap.log" >&2
    exit 1
  }
  # What a container never needs: package lists, caches, docs, man pages, locales.
  rm -rf "$WORK/rootfs"/var/lib/apt/lists/* "$WORK/rootfs"/var/cache/apt/* \
    "$WORK/rootfs"/usr/share/doc/* "$WORK/rootfs"/usr/share/man/* "$WORK/rootfs"/usr/share/info/* \
    "$WORK/rootfs"/usr/share/locale/* "$WORK/rootfs"/var/log/*.log
  tar -C "$WORK/rootfs" --numeric-owner -cf "$ROOTFS_TAR.tmp" .
  mv "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$WORK/rootfs"
else
  log "using cached rootfs $ROOTFS_TAR"
fi

# Unpack the cached rootfs, add node and the node user, and import the result.
mkdir "$WORK/rootfs"
tar -C "$WORK/rootfs" --numeric-owner -xf "$ROOTFS_TAR"
install -m 0755 "$NODE_BIN" "$WORK/rootfs/usr/local/bin/node"
if command -v strip >/dev/null; then
  strip --strip-unneeded "$WORK/rootfs/usr/local/bin/node" 2>/dev/null || log "strip failed; keeping the unstripped binary"
fi
# The official image's user: uid/gid 1000, home /home/node.
if ! grep -q '^node:' "$WORK/rootfs/etc/passwd"; then
  echo 'node:x:1000:' >>"$WORK/rootfs/etc/group"
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$WORK/rootfs/etc/passwd"
  echo 'node:*:19000:0:99999:7:::' >>"$WORK/rootfs/etc/shadow"
  mkdir -p "$WORK/rootfs/home/node"
  chown 1000:1000 "$WORK/rootfs/home/node"
fi
chroot "$WORK/rootfs" /usr/local/bin/node --version >/dev/null 2>&1 || {
  log "the node binary does not run inside the bookworm rootfs"
  exit 1
}

log "importing $IMAGE (node $NODE_VERSION on debian $SUITE)"
tar -C "$WORK/rootfs" --numeric-owner -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${NODE_VERSION#v}" \
  --change 'CMD ["node"]' \
  --message "tributary offline stand-in for $IMAGE: debian $SUITE minbase + node $NODE_VERSION" \
  - "$IMAGE" >/dev/null
docker image ls "$IMAGE" >&2
