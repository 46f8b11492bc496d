#!/usr/bin/env bash
# Builds lnd, lncli, btcd and btcctl from the Go module proxy, as dependencies of
# test/regtest/go/go.mod, into a cache folder outside the repository, and prints
# that folder (the last line of stdout). A folder that already holds all four
# binaries is reused: its name is keyed by the lnd and btcd versions, the Go
# version and the build tags, so changing any of them builds afresh.
#
#   test/regtest/build.sh            build when needed, print the bin folder
#   test/regtest/build.sh --dir      print the bin folder, build nothing
#                                    (exit 1 when it is not complete)
#
# Environment: LNMUX_REGTEST_CACHE (default $HOME/.cache/lnmux-regtest),
# GO (default: go on PATH, else /usr/local/go/bin/go).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gomod_dir="$here/go"

if [[ -n "${GO:-}" ]]; then
  if [[ ! -x "$GO" ]]; then
    echo "build.sh: GO=$GO is not an executable Go toolchain" >&2
    exit 3
  fi
  go_bin=$GO
elif command -v go >/dev/null 2>&1; then
  go_bin=$(command -v go)
elif [[ -x /usr/local/go/bin/go ]]; then
  go_bin=/usr/local/go/bin/go
else
  echo "build.sh: no Go toolchain (set GO or put go on PATH)" >&2
  exit 3
fi

# lnd's release tags that matter to lnmux (routerrpc has no tag: always built).
# See make/release_flags.mk in lnd; the kvdb_* and other RPC tags are left out.
tags="signrpc walletrpc chainrpc invoicesrpc peersrpc"

# Versions straight from go.mod, so computing the key needs no download.
version_of() {
  awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$gomod_dir/go.mod"
}
lnd_version=$(version_of github.com/lightningnetwork/lnd)
btcd_version=$(version_of github.com/btcsuite/btcd)
go_version=$("$go_bin" env GOVERSION)
if [[ -z "$lnd_version" || -z "$btcd_version" ]]; then
  echo "build.sh: lnd or btcd version not found in $gomod_dir/go.mod" >&2
  exit 2
fi
tags_hash=$(printf '%s' "$tags" | sha256sum | cut -c1-8)
key="lnd-${lnd_version}_btcd-${btcd_version}_${go_version}_tags-${tags_hash}"
cache=${LNMUX_REGTEST_CACHE:-$HOME/.cache/lnmux-regtest}
bin="$cache/$key/bin"
binaries=(lnd lncli btcd btcctl)

complete() {
  local b
  for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || return 1; done
}

if [[ "${1:-}" == "--dir" ]]; then
  echo "$bin"
  complete
  exit $?
fi

if complete; then
  echo "build.sh: reusing $bin" >&2
  echo "$bin"
  exit 0
fi

echo "build.sh: building lnd $lnd_version, btcd $btcd_version with $go_version (tags: $tags)" >&2
mkdir -p "$cache/$key"
tmp=$(mktemp -d "$cache/$key/bin.tmp.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
(
  cd "$gomod_dir"
  # -mod=readonly: the build must not edit go.mod; CGO off as lnd's releases.
  CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" "$go_bin" build \
    -trimpath \
    -tags="$tags" \
    -ldflags="-s -w -buildid= -X github.com/lightningnetwork/lnd/build.Commit=$lnd_version" \
    -o "$tmp/" \
    github.com/lightningnetwork/lnd/cmd/lnd \
    github.com/lightningnetwork/lnd/cmd/lncli \
    github.com/btcsuite/btcd \
    github.com/btcsuite/btcd/cmd/btcctl
)
# Publish the folder whole (rename is atomic), so a half build is never reused.
rm -rf "$bin"
mv "$tmp" "$bin"
trap - EXIT
echo "build.sh: built in $(( $(date +%s) - start )) s into $bin" >&2
echo "$bin"
