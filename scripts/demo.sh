#!/usr/bin/env bash
# make demo: the example image hierarchy (base -> app -> product: the one
# template example/layer with each layer's example/<layer>.pkrvars.hcl) built
# twice with the real packer and googlecompute builder and released by this
# plugin, against the local Compute Engine emulator. Nothing leaves this
# machine. State lives under demo/ (demo/state.json survives between runs, so
# every `make demo` walks the older images one step further); `make clean`
# removes it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin
DEMO=$ROOT/demo
PROJECT=acme-images
FAMILIES=(base-debian-12 app-nginx product-shop)
LAYERS=(base app product)
RUNS=2
# The policy the demo releases with, and `imagefamily status` reports with:
# minutes rather than the plugin's days, so that rerunning the demo shows
# images moving on.
KEEP_ACTIVE=1 MIN_AGE=0s OBSOLETE_AFTER=2m DELETE_AFTER=5m PURGE_AFTER=5m

say() { printf '\n==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
die() { printf '\nmake demo: %s\n' "$*" >&2; exit 1; }

for tool in "$BIN/packer" "$BIN/packer-plugin-googlecompute" "$BIN/packer-plugin-imagefamily" "$BIN/imagefamily"; do
  [[ -x $tool ]] || die "$tool is missing: run the demo with \`make demo\`, which builds it"
done
command -v curl >/dev/null || die "curl is needed to seed the emulator; install it and rerun"
mkdir -p "$DEMO/plugins" "$DEMO/logs" "$DEMO/packer"

cat <<EOF
imagefamily demo: three image families, each built on the one before,
  debian-cloud/debian-12 -> base-debian-12 -> app-nginx -> product-shop
built $RUNS times by packer's googlecompute builder and released by the
imagefamily-release post-processor, against a local Compute Engine emulator.
Everything runs on this machine; state is kept in demo/.
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

# Debian's public family stands at the root of the hierarchy. The emulator
# starts empty, so the demo puts an image there the first time.
if [[ $(curl -s -o /dev/null -w '%{http_code}' "$COMPUTE/projects/debian-cloud/global/images/family/debian-12") == 404 ]]; then
  say "seeding debian-cloud/debian-12 with debian-12-bookworm-v20261101 (images.insert, as Debian publishes it)"
  curl -sf -X POST -H 'Content-Type: application/json' \
    -d '{"name":"debian-12-bookworm-v20261101","family":"debian-12","diskSizeGb":"10","rawDisk":{"source":"https://storage.googleapis.com/debian-cloud/debian-12-bookworm-v20261101.tar.gz"}}' \
    "$COMPUTE/projects/debian-cloud/global/images" >/dev/null || die "seeding the emulator failed (see demo/emulator.log)"
else
  say "debian-cloud/debian-12 already has an image (from an earlier demo)"
fi

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
note "rotation for the demo: keep_active $KEEP_ACTIVE, min_age $MIN_AGE, obsolete_after $OBSOLETE_AFTER, delete_after $DELETE_AFTER, purge_after $PURGE_AFTER"

# build LAYER RUN: one packer build of example/layer with the layer's variables
# (example/LAYER.pkrvars.hcl) and the demo's. Its whole output goes to
# demo/logs/; the terminal gets what the builder made and the release's steps.
build() {
  local layer=$1 run=$2 log="$DEMO/logs/run-$2-$1.log" start end
  start=$(date +%s)
  if ! "$BIN/packer" build -color=false -var-file="$ROOT/example/$layer.pkrvars.hcl" -var-file="$DEMO/demo.pkrvars.hcl" \
    -var "report_dir=$DEMO/reports/run-$run" "$ROOT/example/layer" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "packer build of the $layer layer failed (the last lines are above; all of it is in ${log#"$ROOT"/})"
  fi
  end=$(date +%s)
  local from image
  from=$(sed -n 's/.*Using image: //p' "$log" | head -n 1)
  image=$(sed -n "s/.*A disk image was created in the '[^']*' project: //p" "$log" | head -n 1)
  note "googlecompute built $image from $from ($((end - start)) s; full output: ${log#"$ROOT"/})"
  sed -n 's/^==> [^ ]* (imagefamily-release): /      /p' "$log"
}

for run in $(seq 1 "$RUNS"); do
  for layer in "${LAYERS[@]}"; do
    say "run $run of $RUNS: packer build -var-file=example/$layer.pkrvars.hcl example/layer"
    build "$layer" "$run"
  done
done

say "the families now (bin/imagefamily status, with the demo's policy)"
for family in "${FAMILIES[@]}"; do
  echo
  "$BIN/imagefamily" status --project "$PROJECT" --family "$family" --endpoint "$ENDPOINT" \
    --keep-active "$KEEP_ACTIVE" --min-age "$MIN_AGE" --obsolete-after "$OBSOLETE_AFTER" \
    --delete-after "$DELETE_AFTER" --purge-after "$PURGE_AFTER"
done

cat <<EOF

Release reports (JSON): demo/reports/run-*/{base,app,product}-release.json
Packer's manifests:      demo/reports/run-*/*-manifest.json
Run \`make demo\` again to release more images and watch the older ones move on;
example/README.md shows how to point the same template at a real project.
EOF
