#!/usr/bin/env bash
# Compiles rendered docs (the output of `packer-sdc renderdocs`) into the
# layout the Packer integrations site reads, as the official plugins do:
#
#   docs/README.md                          -> .web-docs/README.md
#   docs/<builders|datasources|post-processors|provisioners>/<slug>.mdx
#                                           -> .web-docs/components/<type>/<slug>/README.md
#
# where <type> is builder, data-source, post-processor or provisioner. A
# component page loses its front matter and its H1 (the site adds both), and
# links to /packer/plugins/... are rewritten to /packer/integrations/<org>/...
# Other files in docs/ (cli.md) are not components and are left out.
# .web-docs/metadata.hcl must list exactly the compiled components.
#
# usage: compile-to-webdocs.sh RENDERED_DOCS WEB_DOCS ORGANIZATION
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 RENDERED_DOCS WEB_DOCS ORGANIZATION" >&2
  exit 2
fi
src=$1 dst=$2 org=$3
if [[ -z $src || -z $dst || -z $org ]]; then
  echo "usage: $0 RENDERED_DOCS WEB_DOCS ORGANIZATION (none may be empty)" >&2
  exit 2
fi

fail() { echo "compile-to-webdocs: $*" >&2; exit 1; }

[[ -f $src/README.md ]] || fail "$src/README.md is missing: it is the integration's front page"
[[ -f $dst/metadata.hcl ]] || fail "$dst/metadata.hcl is missing"

component_type() {
  case $1 in
    builders) echo builder ;;
    datasources) echo data-source ;;
    post-processors) echo post-processor ;;
    provisioners) echo provisioner ;;
    *) return 1 ;;
  esac
}

# strip_page drops the front matter (--- ... --- at the top), then blank
# lines and one H1 before the body.
strip_page() {
  awk '
    NR == 1 && $0 == "---" { front = 1; next }
    front { if ($0 == "---") front = 0; next }
    !body && /^[[:space:]]*$/ { next }
    !body && !h1 && /^# / { h1 = 1; next }
    { body = 1; print }
  ' "$1"
}

# rewrite_links turns links to the old plugin docs into integration links:
#   /packer/plugins/datasources/imagefamily/name -> /packer/integrations/<org>/imagefamily/latest/components/data-source/name
#   /packer/plugins/datasources/imagefamily      -> /packer/integrations/<org>/imagefamily
rewrite_links() {
  sed -E \
    -e "s@\(/packer/plugins/([^/)]+)/([^/)#]+)/([^/)#]+)(#[^)]*)?\)@(/packer/integrations/$org/\2/latest/components/\1/\3\4)@g" \
    -e "s@\(/packer/plugins/([^/)]+)/([^/)#]+)(#[^)]*)?\)@(/packer/integrations/$org/\2\3)@g" \
    -e 's@/components/datasources/@/components/data-source/@g' \
    -e 's@/components/builders/@/components/builder/@g' \
    -e 's@/components/post-processors/@/components/post-processor/@g' \
    -e 's@/components/provisioners/@/components/provisioner/@g'
}

# Everything but metadata.hcl and scripts/ is compiled output: start afresh
# so a page that was removed or renamed does not linger.
rm -rf "$dst/components" "$dst/README.md"
rewrite_links < "$src/README.md" > "$dst/README.md"

compiled=()
shopt -s nullglob
for page in "$src"/*/*.mdx; do
  folder=$(basename "$(dirname "$page")")
  slug=$(basename "$page" .mdx)
  [[ $slug == index ]] && continue
  type=$(component_type "$folder") ||
    fail "$page: component pages live in builders/, datasources/, post-processors/ or provisioners/"
  mkdir -p "$dst/components/$type/$slug"
  strip_page "$page" | rewrite_links > "$dst/components/$type/$slug/README.md"
  compiled+=("$type $slug")
done

listed=$(awk '
  /component[[:space:]]*\{/ { type = ""; slug = "" }
  /^[[:space:]]*type[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); type = $0 }
  /^[[:space:]]*slug[[:space:]]*=/ { gsub(/.*=[[:space:]]*"|".*/, ""); slug = $0 }
  type != "" && slug != "" { print type " " slug; type = ""; slug = "" }
' "$dst/metadata.hcl" | sort)
have=$(printf '%s\n' "${compiled[@]}" | sort)
if [[ $listed != "$have" ]]; then
  echo "compile-to-webdocs: $dst/metadata.hcl and the component pages disagree:" >&2
  diff <(echo "$listed") <(echo "$have") | sed -n 's/^< /  listed but no page: /p; s/^> /  page not listed: /p' >&2
  exit 1
fi
echo "compile-to-webdocs: $dst/README.md and ${#compiled[@]} component pages"
