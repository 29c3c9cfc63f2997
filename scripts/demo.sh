#!/usr/bin/env bash
# make demo: the whole life cycle of an image hierarchy in one run, on the
# local Compute Engine emulator. base -> app -> product (the one template
# example/layer with each layer's example/<layer>.pkrvars.hcl) is built with
# the real packer and googlecompute builder and released by this plugin,
# several times per layer: a nightly base rebuild whose children are rebuilt
# because `imagefamily outdated` exits 3 (as a CI job would decide), the old
# generation walked by `imagefamily rotate` through every state to its
# purge, a revoke with descendants, a rollback, and the lineage picture
# (Mermaid on the terminal, DOT drawn by Graphviz into docs/lineage.svg).
#
# The policy is in seconds so that all of it fits in one run (under a minute
# after the build); the waits are real (sleep), nothing reads a fake clock.
# Every run starts from an empty emulator; its state stays in
# demo/state.json afterwards (bin/imagefamily emulator --state
# demo/state.json serves it again). Nothing leaves this machine; `make clean`
# removes demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin
DEMO=$ROOT/demo
PROJECT=acme-images
FAMILIES=(base-debian-12 app-nginx product-shop)
declare -A FAMILY=([base]=base-debian-12 [app]=app-nginx [product]=product-shop)
# One step of the life cycle every STEP seconds: DEPRECATED -> OBSOLETE ->
# DELETED -> gone takes three. keep_active 1: the head is the only ACTIVE
# image, so each release deprecates the one before.
STEP=2
KEEP_ACTIVE=1 MIN_AGE=0s OBSOLETE_AFTER=${STEP}s DELETE_AFTER=${STEP}s PURGE_AFTER=${STEP}s

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\nmake demo: %s\n' "$*" >&2; exit 1; }

for tool in "$BIN/packer" "$BIN/packer-plugin-googlecompute" "$BIN/packer-plugin-imagefamily" "$BIN/imagefamily"; do
  [[ -x $tool ]] || die "$tool is missing: run the demo with \`make demo\`, which builds it"
done
command -v curl >/dev/null || die "curl is needed to seed the emulator; install it and rerun"
command -v dot >/dev/null || die "Graphviz's dot draws the lineage picture: run the demo with \`make demo\`, which installs it"
rm -rf "$DEMO/state.json" "$DEMO/logs" "$DEMO/reports"
mkdir -p "$DEMO/plugins" "$DEMO/logs" "$DEMO/packer"
START=$SECONDS

cat <<EOF
imagefamily demo: three image families, each built on the one before,
  debian-cloud/debian-12 -> base-debian-12 -> app-nginx -> product-shop
built by packer's googlecompute builder and released by the imagefamily-release
post-processor, against a local Compute Engine emulator, through a whole life
cycle: releases, rebuilds of outdated children, rotation to the purge, a
revoke, a rollback and the lineage picture. Policy: keep_active $KEEP_ACTIVE,
obsolete/delete/purge after ${STEP}s each. Everything runs on this machine.
EOF

say "starting the Compute Engine emulator (bin/imagefamily emulator, state: demo/state.json)"
"$BIN/imagefamily" emulator --listen 127.0.0.1:0 --state "$DEMO/state.json" >"$DEMO/emulator.env" 2>"$DEMO/emulator.log" &
EMULATOR_PID=$!
stop_emulator() {
  if kill -0 "$EMULATOR_PID" 2>/dev/null; then
    printf '\n==> stopping the emulator (its state stays in demo/state.json)\n'
    kill -TERM "$EMULATOR_PID" 2>/dev/null || true
    wait "$EMULATOR_PID" 2>/dev/null || true
  fi
}
trap stop_emulator EXIT
ENDPOINT=
for _ in $(seq 1 100); do
  ENDPOINT=$(sed -n '1s/^IMAGEFAMILY_COMPUTE_ENDPOINT=//p' "$DEMO/emulator.env" 2>/dev/null)
  [[ -n $ENDPOINT ]] && break
  kill -0 "$EMULATOR_PID" 2>/dev/null || { cat "$DEMO/emulator.log" >&2; die "the emulator did not start (log above)"; }
  sleep 0.1
done
[[ -n $ENDPOINT ]] || die "the emulator printed no endpoint within 10 s (see demo/emulator.log)"
COMPUTE="$ENDPOINT/compute/v1"
export IMAGEFAMILY_COMPUTE_ENDPOINT=$ENDPOINT
note "listening on $ENDPOINT (pid $EMULATOR_PID)"

say "installing the plugins into demo/plugins (packer plugins install --path)"
export PACKER_PLUGIN_PATH=$DEMO/plugins PACKER_CONFIG_DIR=$DEMO/packer PACKER_CACHE_DIR=$DEMO/packer/cache
export PACKER_CHECKPOINT_DISABLE=1 PACKER_NO_COLOR=1
install_plugin() {
  local out
  out=$("$BIN/packer" plugins install --path "$1" "$2" 2>&1) || { echo "$out" >&2; die "could not install $2"; }
  note "$2 ($("$1" describe | sed -n 's/.*"version":"\([^"]*\)".*/\1/p'))"
}
install_plugin "$BIN/packer-plugin-googlecompute" github.com/hashicorp/googlecompute
install_plugin "$BIN/packer-plugin-imagefamily" github.com/immutable-infra/imagefamily

# Debian's public family stands at the root of the hierarchy; the emulator
# starts empty, so the demo puts an image there.
say "seeding debian-cloud/debian-12 with debian-12-bookworm-v20261101 (images.insert, as Debian publishes it)"
curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"name":"debian-12-bookworm-v20261101","family":"debian-12","diskSizeGb":"10","rawDisk":{"source":"https://storage.googleapis.com/debian-cloud/debian-12-bookworm-v20261101.tar.gz"}}' \
  "$COMPUTE/projects/debian-cloud/global/images" >/dev/null || die "seeding the emulator failed (see demo/emulator.log)"

cat >"$DEMO/demo.pkrvars.hcl" <<EOF
# Written by scripts/demo.sh: the example template pointed at the emulator.
project_id       = "$PROJECT"
compute_endpoint = "$COMPUTE/"
access_token     = "emulator-token-not-a-secret"
rotation = {
  keep_active    = $KEEP_ACTIVE
  min_age        = "$MIN_AGE"
  obsolete_after = "$OBSOLETE_AFTER"
  delete_after   = "$DELETE_AFTER"
  purge_after    = "$PURGE_AFTER"
}
EOF

policy=(--keep-active "$KEEP_ACTIVE" --min-age "$MIN_AGE" --obsolete-after "$OBSOLETE_AFTER"
  --delete-after "$DELETE_AFTER" --purge-after "$PURGE_AFTER")
imagefamily() { "$BIN/imagefamily" "$@"; }

# build LAYER [packer -var ...]: one packer build of example/layer with the
# layer's variables and the demo's. Its output goes to demo/logs/; the
# terminal gets what was built on what, and what the release did. BUILT
# holds the image's name afterwards.
BUILDS=0
BUILT=
build() {
  local layer=$1 log start end from
  shift
  BUILDS=$((BUILDS + 1))
  log="$DEMO/logs/$(printf '%02d' "$BUILDS")-$layer.log"
  start=$SECONDS
  if ! "$BIN/packer" build -color=false -var-file="$ROOT/example/$layer.pkrvars.hcl" -var-file="$DEMO/demo.pkrvars.hcl" \
    -var "report_dir=$DEMO/reports/$(printf '%02d' "$BUILDS")" "$@" "$ROOT/example/layer" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "packer build of the $layer layer failed (the last lines are above; all of it is in ${log#"$ROOT"/})"
  fi
  end=$SECONDS
  from=$(sed -n 's/.*Using image: //p' "$log" | head -n 1)
  BUILT=$(sed -n "s/.*A disk image was created in the '[^']*' project: //p" "$log" | head -n 1)
  note "packer build ($layer): googlecompute built $BUILT on $from in $((end - start)) s; the release:"
  # The release says its steps, and its rotation counted by outcome and
  # kind (every action is in the release report).
  sed -n -e 's/^==> [^ ]* (imagefamily-release): Moved the family pointer: /      family pointer moved: /p' \
    -e 's/^==> [^ ]* (imagefamily-release): Rotated the family: /      rotation: /p' \
    -e 's/^==> [^ ]* (imagefamily-release):   \(done\|skipped\|failed\): /        \1: /p' "$log"
}

# rebuild_if_outdated LAYER: what each child's CI job does after its parent
# released: ask `imagefamily outdated` about its own family and rebuild when
# it exits 3.
rebuild_if_outdated() {
  local layer=$1 family=${FAMILY[$1]} rc=0 out
  out=$(imagefamily outdated --project "$PROJECT" --family "$family" --format wide) || rc=$?
  case $rc in
    3)
      note "imagefamily outdated --family $family: exit 3, $(awk 'NR == 2 { for (i = 7; i <= NF; i++) printf "%s%s", $i, (i < NF ? " " : "") }' <<<"$out")"
      build "$layer" ;;
    0) note "imagefamily outdated --family $family: exit 0, current: nothing to build" ;;
    *) printf '%s\n' "$out" >&2; die "imagefamily outdated --family $family failed (exit $rc)" ;;
  esac
}

# state IMAGE: the image's state, or "gone" once images.delete removed it.
state() {
  local body
  body=$(curl -s -w '\n%{http_code}' "$COMPUTE/projects/$PROJECT/global/images/$1")
  case ${body##*$'\n'} in
    404) echo gone ;;
    200) sed -n 's/.*"state": *"\([A-Z]*\)".*/\1/p' <<<"${body%$'\n'*}" | grep . || echo ACTIVE ;;
    *) echo "unreadable (${body##*$'\n'})" ;;
  esac
}

say "1. the first release of every layer"
build base; BASE1=$BUILT
build app; APP1=$BUILT
build product; PRODUCT1=$BUILT

say "2. nightly: base rebuilt; each child's job rebuilds it when imagefamily outdated exits 3"
build base; BASE2=$BUILT
rebuild_if_outdated app
rebuild_if_outdated product
rebuild_if_outdated product # asked again: now current

say "3. the first generation walks to its end: imagefamily rotate --all-families, once a second"
note "(the releases deprecated them; each run moves each image one step once its date has come)"
for pass in $(seq 1 30); do
  out=$(imagefamily rotate --project "$PROJECT" --all-families "${policy[@]}" 2>>"$DEMO/logs/rotate.log") ||
    { printf '%s\n' "$out" >&2; die "imagefamily rotate failed (see demo/logs/rotate.log)"; }
  printf '%s\n' "$out" >>"$DEMO/logs/rotate.log"
  # The report's rows: IMAGE ACTION FROM -> TO OUTCOME; a purge is images.delete.
  moves=$(awk '$4 == "->" && $6 == "done" { printf "%s %s -> %s; ", $1, $3, ($2 == "purge" ? "gone" : $5) }' <<<"$out")
  [[ -n $moves ]] && note "rotate run $pass: ${moves%; }"
  states="$(state "$BASE1") $(state "$APP1") $(state "$PRODUCT1")"
  [[ $states == "gone gone gone" ]] && break
  sleep 1
done
[[ $states == "gone gone gone" ]] || die "the first generation is not gone after 30 rotate runs: $BASE1 $APP1 $PRODUCT1 are $states"
note "$BASE1, $APP1 and $PRODUCT1 are gone: READY ACTIVE -> DEPRECATED -> OBSOLETE -> DELETED -> deleted for good"

say "4. nightly again: base rebuilt, its children with it"
build base
rebuild_if_outdated app
rebuild_if_outdated product; PRODUCT_GOOD=$BUILT

say "5. a CVE is found in $BASE2: imagefamily revoke --descendants (everything built on it)"
imagefamily revoke --project "$PROJECT" "$BASE2" --descendants --reason "CVE-2026-0001 in openssl" | sed 's/^/    /'

say "6. nginx 1.26.3 is released: the app layer builds it, the product's job follows"
build app -var version=1.26.3
rebuild_if_outdated product
PRODUCT_BAD=$BUILT

say "7. $PRODUCT_BAD breaks checkout: imagefamily rollback to $PRODUCT_GOOD"
note "(it is DEPRECATED and deprecation is not undone: rollback re-releases a copy of it)"
imagefamily rollback --project "$PROJECT" --family product-shop --to "$PRODUCT_GOOD" | sed 's/^/    /'

say "8. imagefamily outdated: what the next CI run would rebuild"
rc=0
imagefamily outdated --project "$PROJECT" | sed 's/^/    /' || true
imagefamily outdated --project "$PROJECT" >/dev/null || rc=$?
[[ $rc == 3 ]] || die "imagefamily outdated exited $rc after the rollback: want 3, product-shop's head being the copy built on an older app image"
note "exit $rc: product-shop's head is the rollback copy, built on the app image before nginx 1.26.3"

say "the families now (bin/imagefamily status, with the demo's policy)"
for family in "${FAMILIES[@]}"; do
  echo
  imagefamily status --project "$PROJECT" --family "$family" "${policy[@]}"
done

say "the lineage picture (imagefamily lineage --project $PROJECT: Mermaid, as GitLab and GitHub render it)"
imagefamily lineage --project "$PROJECT" >"$DEMO/lineage.mmd"
cat "$DEMO/lineage.mmd"
for mark in "HEAD ACTIVE" "DEPRECATED" "OBSOLETE<br/>revoked: cve-2026-0001-in-openssl" "outdated: rebuild on" "rollback copy"; do
  grep -qF "$mark" "$DEMO/lineage.mmd" || die "the lineage picture lacks \"$mark\" (see demo/lineage.mmd)"
done
imagefamily lineage --project "$PROJECT" --format dot >"$DEMO/lineage.dot"
dot -Tsvg "$DEMO/lineage.dot" -o "$ROOT/docs/lineage.svg"
note "drawn with Graphviz: docs/lineage.svg (from demo/lineage.dot; the Mermaid is in demo/lineage.mmd)"

cat <<EOF

The demo took $((SECONDS - START)) s: $BUILDS packer builds and releases, every state from READY to
deleted for good, a revoke, a rollback and the picture.
Release reports (JSON): demo/reports/*/{base,app,product}-release.json; packer's output: demo/logs/.
example/README.md shows how to point the same template at a real project.
EOF
