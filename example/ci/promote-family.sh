#!/usr/bin/env bash
# promote-family.sh: promote what a family points to in the dev project into
# the prod project, under the same name, and release it into prod's family
# of the same name (source "imagefamily-promote" and post-processor
# "imagefamily-release", example/ci/promote). The image that reaches prod is
# the one that was tested in dev, copied with one images.insert and no VM.
#
# The pipelines run it on the stable branch, once per family. A family whose
# dev head prod already holds is left alone, so rerunning the stable
# pipeline promotes nothing twice.
#
# Environment: FAMILY, DEV_PROJECT, PROD_PROJECT, REPORT_DIR (default
# reports/), the rotation policy (KEEP_ACTIVE...) and the emulator settings,
# as for release-layer.sh.
set -euo pipefail
: "${FAMILY:?set FAMILY}" "${DEV_PROJECT:?set DEV_PROJECT}" "${PROD_PROJECT:?set PROD_PROJECT}"
REPORT_DIR=${REPORT_DIR:-reports}
TEMPLATES=${TEMPLATES:-example}
mkdir -p "$REPORT_DIR"

# The family's head: the "head" field of imagefamily status --format json
# (docs/cli.md), read without jq, which CI images often lack.
head_of() {
  imagefamily status --project "$1" --family "$FAMILY" --check-in-use=false --format json |
    sed -n 's/^  "head": "\([^"]*\)",*$/\1/p'
}
image=$(head_of "$DEV_PROJECT")
if [[ -z $image ]]; then
  echo "promote-family: $DEV_PROJECT/$FAMILY has no image to promote" >&2
  exit 1
fi
# --allow-empty: the first promotion finds the prod family empty.
if imagefamily status --project "$PROD_PROJECT" --family "$FAMILY" --check-in-use=false --allow-empty --format json |
  grep -q "\"name\": \"$image\""; then
  echo "promote-family: $PROD_PROJECT/$FAMILY already holds $image; nothing to promote"
  exit 0
fi

echo "promote-family: promoting $DEV_PROJECT/$image into $PROD_PROJECT/$FAMILY"
rotation="{keep_active = ${KEEP_ACTIVE:-2}, min_age = \"${MIN_AGE:-1h}\", obsolete_after = \"${OBSOLETE_AFTER:-7d}\", delete_after = \"${DELETE_AFTER:-30d}\", purge_after = \"${PURGE_AFTER:-7d}\"}"
packer init "$TEMPLATES/ci/promote"
packer build -color=false \
  -var "family=$FAMILY" \
  -var "image=$image" \
  -var "dev_project=$DEV_PROJECT" \
  -var "prod_project=$PROD_PROJECT" \
  -var "report_dir=$REPORT_DIR" \
  -var "rotation=$rotation" \
  "$TEMPLATES/ci/promote"
