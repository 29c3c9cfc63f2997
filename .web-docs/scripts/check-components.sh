#!/usr/bin/env bash
# Checks that every component the plugin binary registers (its `describe`
# output) has a docs page and a metadata.hcl entry, and that no page
# documents a component the binary does not have. Packer names a component
# <plugin>-<registered name>, or just <plugin> for the default one
# (-packer-default-plugin-name-); pages are named after that type:
# docs/datasources/imagefamily.mdx, docs/post-processors/imagefamily-release.mdx.
#
# usage: check-components.sh PLUGIN_BINARY DOCS_DIR METADATA_HCL
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 PLUGIN_BINARY DOCS_DIR METADATA_HCL" >&2
  exit 2
fi
binary=$1 docs=$2 metadata=$3
plugin=$(basename "$binary")
plugin=${plugin#packer-plugin-}
plugin=${plugin%%_*}

desc=$("$binary" describe)

# names KEY: the registered names in describe's JSON array KEY, one a line.
names() {
  sed -nE "s/.*\"$1\":\[([^]]*)\].*/\1/p" <<<"$desc" | tr ',' '\n' | tr -d '"' | sed '/^$/d'
}

want=()
for pair in builders:builders:builder datasources:datasources:data-source \
  post_processors:post-processors:post-processor provisioners:provisioners:provisioner; do
  IFS=: read -r key folder type <<<"$pair"
  while read -r name; do
    [[ -n $name ]] || continue
    if [[ $name == -packer-default-plugin-name- ]]; then slug=$plugin; else slug=$plugin-$name; fi
    want+=("$folder/$slug.mdx $type $slug")
  done < <(names "$key")
done

status=0
for w in "${want[@]}"; do
  read -r page type slug <<<"$w"
  if [[ ! -f $docs/$page ]]; then
    echo "check-components: $type $slug is registered but has no page $docs/$page" >&2
    status=1
  fi
  if ! grep -Eq "slug *= *\"$slug\"" "$metadata"; then
    echo "check-components: $type $slug is registered but not listed in $metadata" >&2
    status=1
  fi
done
shopt -s nullglob
for page in "$docs"/{builders,datasources,post-processors,provisioners}/*.mdx; do
  rel=${page#"$docs"/}
  found=0
  for w in "${want[@]}"; do [[ ${w%% *} == "$rel" ]] && found=1; done
  if [[ $found == 0 ]]; then
    echo "check-components: $page documents a component $binary does not register" >&2
    status=1
  fi
done
[[ $status == 0 ]] && echo "check-components: ${#want[@]} components, each with its page and metadata entry"
exit $status
