#!/usr/bin/env bash
# gcloud-rotate.sh FAMILY [KEEP] — the baseline `make bench` compares
# `imagefamily rotate` with: the image rotator people write when they have
# only gcloud. It lists the family's ACTIVE images, newest first, keeps the
# KEEP newest (default 2) and deprecates each older one with its own gcloud
# call, the newest image as the replacement.
#
# The project and endpoint come from gcloud's own settings, e.g. against the
# emulator:
#   CLOUDSDK_CONFIG=$(mktemp -d) CLOUDSDK_CORE_PROJECT=acme-images \
#   CLOUDSDK_AUTH_DISABLE_CREDENTIALS=true CLOUDSDK_CORE_DISABLE_PROMPTS=1 \
#   CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPUTE=http://127.0.0.1:PORT/compute/v1/ \
#   bench/gcloud-rotate.sh app 2
set -euo pipefail
family=${1:?usage: gcloud-rotate.sh FAMILY [KEEP]}
keep=${2:-2}

mapfile -t images < <(gcloud compute images list --no-standard-images \
  --filter="family=$family" --sort-by=~creationTimestamp --format='value(name)')
if (( ${#images[@]} <= keep )); then
  echo "family $family: ${#images[@]} active images, keeping them all"
  exit 0
fi
newest=${images[0]}
for image in "${images[@]:keep}"; do
  gcloud compute images deprecate "$image" --state=DEPRECATED --replacement="$newest" --quiet
done
echo "family $family: kept ${keep}, deprecated $(( ${#images[@]} - keep )) (replacement $newest)"
