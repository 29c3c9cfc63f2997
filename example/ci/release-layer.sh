#!/usr/bin/env bash
# release-layer.sh: rebuild one layer of the image hierarchy in the dev
# project when it needs it, and release it there. The CI pipelines in
# example/ci call it once per layer, bottom up (base, app, product).
#
# A layer needs a rebuild when `imagefamily outdated` says its family's head
# was built on an image its parent family has moved past (exit code 3), when
# the family has no image yet, or when its head carries no lineage labels (it
# was not released by this suite). Otherwise the layer is current and
# nothing is built: a nightly run after which no parent moved builds and
# releases nothing.
#
# Environment:
#   LAYER          the layer: example/$LAYER.pkrvars.hcl holds its variables
#   FAMILY         the family it releases into (the file's `family`)
#   DEV_PROJECT    the project the images are built and released in
#   REPORT_DIR     where the reports go (default reports/; CI keeps them)
#   FORCE_REBUILD  "true" rebuilds even a current layer (e.g. for package
#                  updates on an unchanged parent)
#   KEEP_ACTIVE MIN_AGE OBSOLETE_AFTER DELETE_AFTER PURGE_AFTER
#                  the rotation policy (default: the plugin's)
#   IMAGEFAMILY_COMPUTE_ENDPOINT, PKR_VAR_compute_endpoint, PKR_VAR_access_token
#                  only to point both at an emulator; unset for Google's
set -euo pipefail
: "${LAYER:?set LAYER (base, app, product)}" "${FAMILY:?set FAMILY}" "${DEV_PROJECT:?set DEV_PROJECT}"
REPORT_DIR=${REPORT_DIR:-reports}
TEMPLATES=${TEMPLATES:-example}
mkdir -p "$REPORT_DIR"

check="$REPORT_DIR/$LAYER-outdated.json"
rc=0
# --allow-empty: a layer's first release finds its family empty (verdict
# no-head), which here means "build it", not a typo in the job.
imagefamily outdated --project "$DEV_PROJECT" --family "$FAMILY" --allow-empty --format json >"$check" || rc=$?
case $rc in
  3) why="its head was built on an image its parent family has moved past" ;;
  0)
    if grep -q '"verdict": "no-head"' "$check"; then
      why="the family has no image yet"
    elif grep -q '"verdict": "no-lineage"' "$check"; then
      why="its head carries no lineage labels"
    elif grep -q '"verdict": "unknown"' "$check"; then
      echo "release-layer: $FAMILY: the parent family could not be read (see $check)" >&2
      exit 1
    elif [[ ${FORCE_REBUILD:-false} == true ]]; then
      why="FORCE_REBUILD is true"
    else
      echo "release-layer: $FAMILY is current: its head is built on its parent family's head; nothing to build"
      exit 0
    fi
    ;;
  *)
    echo "release-layer: imagefamily outdated failed (exit $rc)" >&2
    exit "$rc"
    ;;
esac

echo "release-layer: rebuilding $LAYER into $DEV_PROJECT/$FAMILY: $why"
rotation="{keep_active = ${KEEP_ACTIVE:-2}, min_age = \"${MIN_AGE:-1h}\", obsolete_after = \"${OBSOLETE_AFTER:-7d}\", delete_after = \"${DELETE_AFTER:-30d}\", purge_after = \"${PURGE_AFTER:-7d}\"}"
packer init "$TEMPLATES/layer"
packer build -color=false \
  -var-file="$TEMPLATES/$LAYER.pkrvars.hcl" \
  -var "project_id=$DEV_PROJECT" \
  -var "report_dir=$REPORT_DIR" \
  -var "rotation=$rotation" \
  "$TEMPLATES/layer"
