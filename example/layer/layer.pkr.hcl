# One layer of the image hierarchy: an image built on what its parent family
# points to now, and released into the layer's own family. Every layer is this
# template; a layer's variables file (../base.pkrvars.hcl, ../app.pkrvars.hcl,
# ../product.pkrvars.hcl) says which family it builds on and which it
# releases into. See ../README.md.

packer {
  required_plugins {
    googlecompute = {
      source  = "github.com/hashicorp/googlecompute"
      version = ">= 1.2.7"
    }
    imagefamily = {
      source  = "github.com/immutable-infra/imagefamily"
      version = ">= 0.1.0"
    }
  }
}

# The parent: what the parent family points to now, pinned for this build, so
# that a family that moves meanwhile cannot change what the build is made of.
# For the base layer that is Debian's public family debian-cloud/debian-12;
# for the others, the family of the layer below, in the image project.
data "imagefamily" "parent" {
  project_id       = local.parent_project
  family           = var.parent_family
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

# A conventional, unique name, known before the build.
data "imagefamily-name" "image" {
  os       = var.os
  software = var.software
  version  = var.version
}

source "googlecompute" "layer" {
  project_id              = var.project_id
  zone                    = var.zone
  source_image            = data.imagefamily.parent.name
  source_image_project_id = [data.imagefamily.parent.project_id]
  image_name              = data.imagefamily-name.image.name
  image_description       = "${var.software} ${var.version} on ${data.imagefamily.parent.project_id}/${data.imagefamily.parent.name}"
  # No image_family: the family moves only once the release checks pass.
  communicator     = var.communicator
  ssh_username     = var.ssh_username
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

build {
  # Packer prints the build as base.googlecompute.layer, app.googlecompute.layer, ...
  name    = var.layer
  sources = ["source.googlecompute.layer"]

  # The layer's provisioners go here (they need communicator = "ssh"), e.g.
  # one shell provisioner running the script the layer's variables file names.

  post-processors {
    post-processor "imagefamily-release" {
      project_id = var.project_id
      family     = var.family
      # Recorded in the lineage labels: parent image, family and project.
      parent = data.imagefamily.parent.self_link
      # The name must follow the same convention as data.imagefamily-name.
      naming {
        os       = var.os
        software = var.software
        version  = var.version
      }
      labels = var.labels
      rotation {
        keep_active    = var.rotation.keep_active
        min_age        = var.rotation.min_age
        obsolete_after = var.rotation.obsolete_after
        delete_after   = var.rotation.delete_after
        purge_after    = var.rotation.purge_after
        # Images named by instance templates or booted by instances are
        # never rotated (the default): in the image project and in these.
        check_in_use    = true
        in_use_projects = var.in_use_projects
      }
      report_file      = "${var.report_dir}/${var.layer}-release.json"
      access_token     = var.access_token
      custom_endpoints = local.custom_endpoints
    }
    post-processor "manifest" {
      output     = "${var.report_dir}/${var.layer}-manifest.json"
      strip_path = true
    }
  }
}
