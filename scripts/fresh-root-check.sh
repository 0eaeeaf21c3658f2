#!/usr/bin/env bash
# shellcheck disable=SC2016  # single-quoted $(...) and ${...} are meant for the root's shell, node or dpkg-query
# Fresh-machine check: runs what a new user runs, in a minimal Debian root of this
# machine's release, so a system package the project needs but scripts/setup.mjs does not install fails here
# instead of on a user's machine.
#
# In the root (debootstrap --variant=minbase: dpkg, apt, bash, coreutils; no compiler, no git, no Node) it puts
# only this machine's Node binary and npm, clones the commit under test, and runs as a new user would:
#   node scripts/setup.mjs    (apt-get installs SYSTEM_PACKAGES, npm ci)
#   npm run build             (cmake-js addon + TypeScript)
#   eos info --json           (must report the dnnl backend and libfaiss: a silent fallback fails the check)
#   eos run --depth 8 ...     (a small end-to-end run of the real pipeline on Debian's Fashion-MNIST)
# Each failure ends with one line "fresh-root-check: FAILED at step '<step>': <why>"; wall times are printed per
# step and in total.
#
# Caches (outside the clone, under $EOS_FRESH_ROOT_CACHE, default /var/cache/eos-fresh-root):
#   <release>-<arch>-minbase.tar  the debootstrapped root, made once; every run unpacks a fresh copy of it
#   apt-archives/                 downloaded .deb files (bind-mounted at the root's /var/cache/apt/archives)
#   npm/                          npm's download cache (bind-mounted at the root's /root/.npm)
# The root itself always starts with none of the project's packages installed.
#
# Needs root (chroot, mount) and debootstrap (installed with apt-get when missing), and the network the machine's
# apt and npm use. Skip it with EOS_SKIP_FRESH_ROOT=1 (e.g. without root); .ci/run runs it after npm test.
#
# Usage: scripts/fresh-root-check.sh [--keep] [--refresh-cache] [--overlay PATH]... [--drop-package PKG]...
#   --keep              leave the root and the logs (default: removed; the mounts are always undone)
#   --refresh-cache     debootstrap the cached root again (e.g. after a point release)
#   --overlay PATH      copy PATH (relative to the repository) from the working tree over the clone, to try
#                       uncommitted changes (the check itself tests the committed HEAD)
#   --drop-package PKG  remove 'PKG' from SYSTEM_PACKAGES in the clone's scripts/setup.mjs (never in the
#                       repository): shows that the check fails when a needed package is undeclared
# Environment: EOS_FRESH_ROOT_CACHE (cache folder), EOS_FRESH_ROOT_TMP (where the root is made; default
# /var/tmp), EOS_FRESH_ROOT_MIRROR (default: the machine's apt mirror for its release).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PREFIX="fresh-root-check"
KEEP=0
REFRESH=0
OVERLAYS=()
DROPS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) KEEP=1 ;;
    --refresh-cache) REFRESH=1 ;;
    --overlay) OVERLAYS+=("${2:?--overlay needs a path}"); shift ;;
    --drop-package) DROPS+=("${2:?--drop-package needs a package name}"); shift ;;
    -h | --help) sed -n '/^# Fresh-machine check/,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$PREFIX: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ "${EOS_SKIP_FRESH_ROOT:-0}" = 1 ]; then
  echo "$PREFIX: skipped (EOS_SKIP_FRESH_ROOT=1)"
  exit 0
fi

# ---- timing and failure reporting -------------------------------------------------------------------------
now() { date +%s.%N; }
T0=$(now)
TIMES=()
CURRENT_STEP="preflight"
STEP_T0=$T0
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
fail() {
  TIMES+=("$(printf '%-14s %7s s (failed)' "$CURRENT_STEP" "$(secs "$STEP_T0" "$(now)")")")
  echo "$PREFIX: FAILED at step '$CURRENT_STEP': $*" >&2
  exit 1
}
begin() {
  CURRENT_STEP="$1"
  STEP_T0=$(now)
  echo
  echo "$PREFIX: ---- $1"
}
end() {
  local s
  s=$(secs "$STEP_T0" "$(now)")
  TIMES+=("$(printf '%-14s %7s s' "$CURRENT_STEP" "$s")")
  echo "$PREFIX: ---- $CURRENT_STEP done in $s s"
}
print_times() {
  echo "$PREFIX: wall time per step:"
  local t
  for t in "${TIMES[@]}"; do echo "  $t"; done
  echo "  $(printf '%-14s %7s s' total "$(secs "$T0" "$(now)")")"
}

[ "$(id -u)" = 0 ] || fail "needs root (chroot, mount); run as root, or set EOS_SKIP_FRESH_ROOT=1 to skip"
for cmd in git tar chroot mount umount findmnt flock; do
  command -v "$cmd" >/dev/null || fail "'$cmd' not found on this machine"
done
[ -r /etc/os-release ] || fail "no /etc/os-release: not a Debian-like machine"
# shellcheck disable=SC1091
RELEASE="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
[ -n "$RELEASE" ] || fail "/etc/os-release has no VERSION_CODENAME"
ARCH="$(dpkg --print-architecture)"
# The machine's own mirror for its release (the site apt uses for '<release> main').
MIRROR="${EOS_FRESH_ROOT_MIRROR:-$(apt-get indextargets --format '$(SITE) $(RELEASE) $(TARGET_OF)' 2>/dev/null |
  awk -v r="$RELEASE" '$2 == r && $3 == "deb" { print $1; exit }')}"
[ -n "$MIRROR" ] || fail "no apt source for '$RELEASE' on this machine (set EOS_FRESH_ROOT_MIRROR)"
CACHE="${EOS_FRESH_ROOT_CACHE:-/var/cache/eos-fresh-root}"
TARBALL="$CACHE/$RELEASE-$ARCH-minbase.tar"
mkdir -p "$CACHE/apt-archives/partial" "$CACHE/npm"
echo "$PREFIX: $RELEASE/$ARCH from $MIRROR; cache $CACHE; repository $REPO at $(git -C "$REPO" rev-parse --short HEAD)"

# One check at a time per cache (the cached tarball, the .deb and npm caches are shared).
exec 9>"$CACHE/lock"
flock -w 3600 9 || fail "another fresh-root check holds $CACHE/lock"

# ---- the work folder, mounts, and their removal on any exit -----------------------------------------------
WORK="$(mktemp -d "${EOS_FRESH_ROOT_TMP:-/var/tmp}/eos-fresh-root.XXXXXX")"
ROOT="$WORK/root"
LOGS="$WORK/logs"
mkdir -p "$ROOT" "$LOGS"
MOUNTS=()
mount_in_root() { # mount_in_root TARGET-INSIDE-ROOT mount-args...
  local target="$ROOT$1"
  shift
  mkdir -p "$target"
  mount "$@" "$target" || fail "mount $* $target failed"
  MOUNTS+=("$target")
}
cleanup() {
  local rc=$? i
  trap - EXIT INT TERM
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null ||
      echo "$PREFIX: could not unmount ${MOUNTS[i]}" >&2
  done
  if findmnt -rn -o TARGET | grep -q "^$WORK/"; then
    # Never delete through a mount (a bound /dev or cache): leave everything for a human.
    echo "$PREFIX: mounts remain under $WORK; not removing it" >&2
  elif [ "$KEEP" = 1 ]; then
    echo "$PREFIX: kept the root at $ROOT and the logs at $LOGS (remove with: rm -rf --one-file-system $WORK)"
  else
    rm -rf --one-file-system "$WORK"
  fi
  [ ${#TIMES[@]} -eq 0 ] || print_times
  if [ $rc -eq 0 ]; then echo "$PREFIX: passed"; fi
  exit $rc
}
trap cleanup EXIT
trap 'fail "interrupted"' INT TERM

# Runs a shell command in the root as a new user would: root, HOME=/root, a plain PATH, no host environment
# except CI and the machine's network settings (proxies; the extra CA certificates Node is told to trust, which
# a TLS-inspecting proxy needs: copied into the root in step 'node'); output goes to the terminal and to
# $LOGS/<step>.log.
ROOT_CA=/usr/local/share/eos-fresh-root/machine-extra-ca.crt
in_root() {
  local log="$LOGS/$CURRENT_STEP.log" status
  local -a envs=(HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 TERM=dumb
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
  local v
  for v in CI http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
    if [ -n "${!v:-}" ]; then envs+=("$v=${!v}"); fi
  done
  if [ -s "$ROOT$ROOT_CA" ]; then envs+=("NODE_EXTRA_CA_CERTS=$ROOT_CA"); fi
  set +e
  chroot "$ROOT" /usr/bin/env -i "${envs[@]}" /bin/bash -c "cd /root/eos-imbalance 2>/dev/null || cd /root; $1" \
    2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  set -e
  return "$status"
}

# ---- 1. the cached minimal root ---------------------------------------------------------------------------
begin "cache"
if [ "$REFRESH" = 1 ] || [ ! -s "$TARBALL" ]; then
  if ! command -v debootstrap >/dev/null; then
    echo "$PREFIX: installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends debootstrap ||
      { apt-get update -q && apt-get install -y -q --no-install-recommends debootstrap; } ||
      fail "could not install debootstrap"
  fi
  BUILD="$WORK/debootstrap"
  echo "$PREFIX: debootstrap --variant=minbase $RELEASE (once; cached at $TARBALL)"
  debootstrap --variant=minbase --arch="$ARCH" "$RELEASE" "$BUILD" "$MIRROR" >"$LOGS/debootstrap.log" 2>&1 ||
    { tail -n 20 "$LOGS/debootstrap.log" >&2; fail "debootstrap failed (log above)"; }
  rm -f "$BUILD"/var/cache/apt/archives/*.deb
  tar -C "$BUILD" --numeric-owner -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
  rm -rf --one-file-system "$BUILD"
else
  echo "$PREFIX: using the cached root $TARBALL ($(du -h "$TARBALL" | cut -f1), made $(date -r "$TARBALL" +%F))"
fi
end

# ---- 2. a fresh copy, with the machine's apt sources and network settings ---------------------------------
begin "unpack"
tar -C "$ROOT" --numeric-owner -xf "$TARBALL"
# The machine's apt sources whose signing keyring the root also has (Debian's; not e.g. a vendor's repository),
# replacing debootstrap's one-line sources.list; and apt.conf.d files that only tune downloading (Acquire::,
# e.g. a proxy or a snapshot mirror's validity), nothing that changes what gets installed.
copied_parts=0
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] || continue
  keyring="$(grep -ohE '(Signed-By:|signed-by=)[[:space:]]*/[^] ]+' "$f" | head -n 1 | sed -E 's/^[^/]*//')" || true
  if [ -n "$keyring" ] && [ ! -e "$ROOT$keyring" ]; then
    echo "$PREFIX: not copying $f (its keyring $keyring is not in the root)"
    continue
  fi
  mkdir -p "$ROOT$(dirname "$f")"
  cp "$f" "$ROOT$f"
  if [ "$f" != /etc/apt/sources.list ]; then copied_parts=1; fi
done
# Without a sources.list of its own, the machine's sources.list.d files replace debootstrap's sources.list
# (which would otherwise list '<release> main' twice).
if [ "$copied_parts" = 1 ] && [ ! -s /etc/apt/sources.list ]; then rm -f "$ROOT/etc/apt/sources.list"; fi
for f in /etc/apt/apt.conf.d/*; do
  [ -f "$f" ] || continue
  if grep -vE '^[[:space:]]*(//|#|$)' "$f" | grep -qvE '^[[:space:]]*Acquire::'; then continue; fi
  cp "$f" "$ROOT$f"
done
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
cp -L /etc/hosts "$ROOT/etc/hosts" 2>/dev/null || true
echo "$PREFIX: fresh root at $ROOT: $(chroot "$ROOT" dpkg-query -W -f '.\n' | wc -l) packages"
for pkg in g++ cmake make python3 git; do
  if chroot "$ROOT" dpkg-query -W -f '${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    fail "the cached root already has $pkg installed: remove $TARBALL"
  fi
done
end

# ---- 3. the machine's Node and npm, nothing else from the machine -----------------------------------------
begin "node"
NODE_BIN="$(readlink -f "$(command -v node)")" || fail "node not found on this machine"
NPM_CLI="$(readlink -f "$(command -v npm)")" || fail "npm not found on this machine"
NPM_DIR="$(dirname "$(dirname "$NPM_CLI")")" # .../npm/bin/npm-cli.js -> .../npm
if [ ! -f "$NPM_DIR/package.json" ] || [ ! -d "$NPM_DIR/node_modules" ]; then
  fail "npm at $NPM_DIR is not a self-contained npm (its dependencies are elsewhere, e.g. Debian's npm package)"
fi
install -D -m 755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
echo "$PREFIX: $NODE_BIN and $NPM_DIR -> /usr/local in the root (not its headers: node-gyp fetches those)"
# Network settings, not packages: the CA certificates this machine's Node is told to trust (NODE_EXTRA_CA_CERTS,
# or npm's cafile), e.g. for a TLS-inspecting proxy in front of the npm registry.
MACHINE_CA="${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}"
if [ -n "$MACHINE_CA" ] && [ "$MACHINE_CA" != null ] && [ -s "$MACHINE_CA" ]; then
  install -D -m 644 "$MACHINE_CA" "$ROOT$ROOT_CA"
  echo "$PREFIX: the machine's extra CA certificates ($MACHINE_CA) -> NODE_EXTRA_CA_CERTS in the root"
fi
mount_in_root /proc -t proc proc
mount_in_root /sys -t sysfs sysfs
mount_in_root /dev --bind /dev
mount_in_root /dev/pts --bind /dev/pts
mount_in_root /dev/shm -t tmpfs tmpfs
mount_in_root /var/cache/apt/archives --bind "$CACHE/apt-archives"
mount_in_root /root/.npm --bind "$CACHE/npm"
in_root 'echo "node $(node --version), npm $(npm --version)"' ||
  fail "the machine's node or npm does not run in the root (missing shared libraries: $(ldd "$NODE_BIN" |
    awk '/not found/ { printf "%s ", $1 }'))"
end

# ---- 4. the commit under test -----------------------------------------------------------------------------
begin "clone"
CLONE="$ROOT/root/eos-imbalance"
HEAD_SHA="$(git -C "$REPO" rev-parse HEAD)"
git -c safe.directory='*' clone -q --no-hardlinks "$REPO" "$CLONE"
git -C "$CLONE" -c advice.detachedHead=false checkout -q "$HEAD_SHA"
echo "$PREFIX: cloned $HEAD_SHA"
for p in "${OVERLAYS[@]}"; do
  [ -e "$REPO/$p" ] || fail "--overlay $p: no such file in $REPO"
  mkdir -p "$(dirname "$CLONE/$p")"
  cp -a "$REPO/$p" "$CLONE/$p"
  echo "$PREFIX: overlay from the working tree: $p"
done
for pkg in "${DROPS[@]}"; do
  grep -qF "'$pkg'," "$CLONE/scripts/setup.mjs" || fail "--drop-package $pkg: not in SYSTEM_PACKAGES"
  sed -i "/^[[:space:]]*'${pkg//./\\.}',[[:space:]]*\$/d" "$CLONE/scripts/setup.mjs"
  ! grep -qF "'$pkg'," "$CLONE/scripts/setup.mjs" || fail "--drop-package $pkg: could not remove it"
  echo "$PREFIX: dropped '$pkg' from SYSTEM_PACKAGES in the clone only (a deliberate failure)"
done
end

# ---- 5. what a new user runs ------------------------------------------------------------------------------
begin "setup"
in_root 'node scripts/setup.mjs' || fail "node scripts/setup.mjs failed (log above)"
# Keeps the .deb cache from growing: drops the files the mirror no longer has.
in_root 'apt-get autoclean -qq' || true
end

begin "build"
in_root 'npm run build' || fail "npm run build failed (log above)"
# The build falls back to the reference backend with a CMake warning when oneDNN is missing or broken.
# Any CMake warning fails too: the check is meant to keep the fresh-machine build clean.
if grep -q '^CMake Warning' "$LOGS/build.log"; then
  # The first warning's paragraph, on one line.
  warning="$(awk '/^CMake Warning/ { on = 1; next } on && /^[[:space:]]*$/ { exit } on { printf "%s ", $0 }' \
    "$LOGS/build.log" | tr -s ' ')"
  fail "CMake warned:${warning% }"
fi
end

begin "info"
in_root 'node dist/lib/cli/eos.js info' || fail "eos info failed"
info_json="$(in_root 'node dist/lib/cli/eos.js info --json')" || fail "eos info --json failed"
summary="$(printf '%s' "$info_json" | node -e '
  const i = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
  const problems = [];
  if (i.addon?.backend !== "dnnl") problems.push(`backend is ${i.addon?.backend}, not dnnl (the fast one)`);
  if (i.addon?.buildSystem !== "cmake-js") problems.push(`addon built by ${i.addon?.buildSystem}, not cmake-js`);
  if (i.addon?.faiss !== true) problems.push("no libfaiss in the addon (--knn ivf|hnsw would be refused)");
  if (!i.dataset?.installed) problems.push(`data set ${i.dataset?.name} not installed (missing ${i.dataset?.missing})`);
  console.log(problems.length ? `BAD ${problems.join("; ")}` : `OK backend dnnl, oneDNN ${i.addon.dnnlVersion}, ISA ${i.addon.dnnlIsa}, faiss ${i.addon.faissVersion}`);
')" || fail "could not read eos info --json"
case "$summary" in
  OK*) echo "$PREFIX: eos info: ${summary#OK }" ;;
  *) fail "eos info: ${summary#BAD }" ;;
esac
end

begin "run"
in_root 'node dist/lib/cli/eos.js run --backend dnnl --depth 8 --epochs 1 --head-epochs 1 --compare none \
  --out runs/fresh-root && test -s runs/fresh-root/results.json && test -s runs/fresh-root/model.onnx' ||
  fail "eos run (small) failed or wrote no results.json/model.onnx"
end
