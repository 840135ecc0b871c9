#!/usr/bin/env bash
# One-time setup on a Debian/Ubuntu machine: the system packages the tests use
# (Chromium for end-to-end tests; nftables, iproute2, conntrack, miniupnpd,
# coturn and a C compiler for the network lab; openssh and socat for the
# benchmark baselines), then the npm packages. System packages need root; without
# it they are skipped and the tests that need them say so.
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(chromium nftables iptables iproute2 conntrack miniupnpd coturn gcc libc6-dev socat openssh-server openssh-client procps)
if [ "$(id -u)" = 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${packages[@]}"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo apt-get update -q
  sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
else
  echo "setup: not root, skipping system packages (${packages[*]})." >&2
fi
npm ci
