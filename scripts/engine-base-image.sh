#!/usr/bin/env bash
# Makes a local stand-in for the registry image node:20-bookworm-slim, so that `docker build` of
# the project's Dockerfile can run on a machine that reaches no image registry:
#   a minimal Debian bookworm (debootstrap --variant=minbase, from the machine's own Debian mirror)
#   + this machine's Node 20 (node, npm, corepack, headers) laid out as the official image has it
#     (/usr/local/bin/node, /usr/local/lib/node_modules, /usr/local/include/node)
#   + the official image's `node` user (uid/gid 1000), entrypoint behaviour and CMD ["node"].
# The bookworm rootfs is cached in .cache/engine-base (about 30 s to make, 200 MB); the import
# itself takes a few seconds.
#   engine-base-image.sh DOCKER_SOCKET [TAG]   (TAG defaults to node:20-bookworm-slim)
# A build stage that runs npm or apt needs the network: `docker build --network host …` (the
# engine's bridge has no NAT; the host reaches the registries).
set -euo pipefail

sock=${1:?usage: engine-base-image.sh DOCKER_SOCKET [TAG]}
tag=${2:-node:20-bookworm-slim}
DOCKER=${DOCKER_CLI:-/usr/bin/docker}
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="$repo_root/.cache/engine-base"
base_tar="$cache/bookworm-minbase.tar"

node_bin=$(command -v node)
node_prefix=$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)
node_version=$("$node_bin" -p 'process.versions.node')
[[ $node_version == 20.* ]] || { echo "engine-base-image: this machine's node is $node_version, not 20.x" >&2; exit 1; }

# The machine's Debian mirror (deb822 or one-line format), unless ENGINE_DEBIAN_MIRROR says otherwise.
mirror=${ENGINE_DEBIAN_MIRROR:-$(
  { awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null
    awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list 2>/dev/null; } | head -1 || true)}
mirror=${mirror:-http://deb.debian.org/debian}

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

if [[ ! -s $base_tar ]]; then
  command -v debootstrap >/dev/null || {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; }
  }
  echo "engine-base-image: debootstrap bookworm (minbase) from $mirror" >&2
  debootstrap --variant=minbase bookworm "$root/fs" "$mirror" > "$root/debootstrap.log" 2>&1 ||
    { tail -20 "$root/debootstrap.log" >&2; exit 1; }
  rm -rf "$root/fs/var/cache/apt/archives/"*.deb "$root/fs/var/lib/apt/lists/"*
  mkdir -p "$cache"
  tar -C "$root/fs" -cf "$base_tar.tmp" . && mv "$base_tar.tmp" "$base_tar"
  rm -rf "$root/fs"
fi

mkdir "$root/fs"
tar -C "$root/fs" -xf "$base_tar"
fs=$root/fs
# apt inside the image uses the same mirror as this machine.
if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
  rm -f "$fs/etc/apt/sources.list"
  cp /etc/apt/sources.list.d/debian.sources "$fs/etc/apt/sources.list.d/debian.sources"
fi
mkdir -p "$fs/usr/local/bin" "$fs/usr/local/lib/node_modules" "$fs/usr/local/include"
cp "$(readlink -f "$node_bin")" "$fs/usr/local/bin/node"
cp -a "$node_prefix/lib/node_modules/npm" "$fs/usr/local/lib/node_modules/"
[[ -d $node_prefix/lib/node_modules/corepack ]] && cp -a "$node_prefix/lib/node_modules/corepack" "$fs/usr/local/lib/node_modules/"
[[ -d $node_prefix/include/node ]] && cp -a "$node_prefix/include/node" "$fs/usr/local/include/"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$fs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$fs/usr/local/bin/npx"
[[ -d $fs/usr/local/lib/node_modules/corepack ]] && ln -s ../lib/node_modules/corepack/dist/corepack.js "$fs/usr/local/bin/corepack"
# Like the official entrypoint: a first argument that is a flag or not a command goes to node.
cat > "$fs/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
set -e
if [ "${1#-}" != "$1" ] || [ -z "$(command -v "$1")" ] || { [ -f "$1" ] && ! [ -x "$1" ]; }; then
  set -- node "$@"
fi
exec "$@"
EOF
chmod 755 "$fs/usr/local/bin/docker-entrypoint.sh"
chroot "$fs" groupadd --gid 1000 node
chroot "$fs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
# The node binary must run with the image's own libraries (libstdc++ and libc from bookworm).
env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$fs" /usr/local/bin/node -e 'process.exit(0)' ||
  { echo "engine-base-image: node does not run inside the bookworm rootfs" >&2; exit 1; }

changes=()
# Where this machine reaches registries through a TLS-inspecting proxy, node trusts its CA through
# NODE_EXTRA_CA_CERTS; a build stage's npm needs the same file (the official image has no such thing).
if [[ -n ${NODE_EXTRA_CA_CERTS:-} && -f $NODE_EXTRA_CA_CERTS ]]; then
  install -D -m 644 "$NODE_EXTRA_CA_CERTS" "$fs/usr/local/share/engine-ca/extra-ca.crt"
  changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/engine-ca/extra-ca.crt')
fi

tar -C "$fs" -c . | "$DOCKER" -H "unix://$sock" import "${changes[@]}" \
  --change "ENV NODE_VERSION=$node_version" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["node"]' \
  - "$tag" >/dev/null
echo "$tag"
