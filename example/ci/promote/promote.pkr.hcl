# Promotion: the image a dev family's head is, copied into the prod project
# under the same name with one images.insert (no VM, nothing rebuilt), then
# released into prod's family of the same name. example/ci/promote-family.sh
# runs it on the stable branch; see ../README.md.

packer {
  required_plugins {
    imagefamily = {
      source  = "github.com/immutable-infra/imagefamily"
      version = ">= 0.1.0"
    }
  }
}

# The exact dev image, pinned by name: the one that was tested, even if the
# dev family moves on while this runs.
data "imagefamily" "dev" {
  project_id       = var.dev_project
  family           = var.family
  image            = var.image
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

source "imagefamily-promote" "prod" {
  source_image     = data.imagefamily.dev.self_link
  project_id       = var.prod_project
  image_name       = data.imagefamily.dev.name
  labels           = { promoted-by = "ci" }
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

build {
  name    = var.family
  sources = ["source.imagefamily-promote.prod"]

  post-processors {
    post-processor "imagefamily-release" {
      project_id = var.prod_project
      family     = var.family
      rotation {
        keep_active    = var.rotation.keep_active
        min_age        = var.rotation.min_age
        obsolete_after = var.rotation.obsolete_after
        delete_after   = var.rotation.delete_after
        purge_after    = var.rotation.purge_after
      }
      report_file      = "${var.report_dir}/${var.family}-promote.json"
      access_token     = var.access_token
      custom_endpoints = local.custom_endpoints
    }
    post-processor "manifest" {
      output     = "${var.report_dir}/${var.family}-promote-manifest.json"
      strip_path = true
    }
  }
}
