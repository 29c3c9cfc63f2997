# The Packer integrations site's description of this plugin. Specification:
# https://github.com/hashicorp/integration-template#metadata-configuration
# Each component has a page in docs/<folder>/<slug>.mdx; `make generate`
# compiles it to .web-docs/components/<type>/<slug>/README.md and fails when
# this list and the pages disagree.
integration {
  name        = "Image Family"
  description = "Immutable Compute Engine image families: resolve a parent family, name images by convention, release a new image as its family's head and retire older images on a schedule."
  identifier  = "packer/immutable-infra/imagefamily"
  component {
    type = "data-source"
    name = "Image Family"
    slug = "imagefamily"
  }
  component {
    type = "data-source"
    name = "Image Family Name"
    slug = "imagefamily-name"
  }
  component {
    type = "builder"
    name = "Image Family Promote"
    slug = "imagefamily-promote"
  }
  component {
    type = "post-processor"
    name = "Image Family Release"
    slug = "imagefamily-release"
  }
}
