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

# A conventional, unique name, known before the build and to a plain
# `packer validate`: {os}-{software}-{version}-v{timestamp}, each part
# lower-cased with every run of other characters than a-z and 0-9 made one
# "-" (the convention's rule), the timestamp the build's start in UTC. The
# release's naming block checks it again. (data "imagefamily-name" makes the
# same name, shortened when it would pass 63 characters, but a data source is
# unknown to `packer validate` without -evaluate-datasources.)
locals {
  name_parts = [for part in [var.os, var.software, var.version] : trim(regex_replace(lower(part), "[^a-z0-9]+", "-"), "-")]
  image_name = "${join("-", local.name_parts)}-v${lower(formatdate("YYYYMMDD'T'hhmmss", timestamp()))}"
}

source "googlecompute" "layer" {
  project_id              = var.project_id
  zone                    = var.zone
  source_image            = data.imagefamily.parent.name
  source_image_project_id = [data.imagefamily.parent.project_id]
  image_name              = local.image_name
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

  # Then what the image holds, for the release to tell a rebuild that changed
  # nothing (content_manifest): the installed packages, listed on the
  # machine and downloaded next to the reports.
  dynamic "provisioner" {
    for_each = var.communicator == "ssh" ? ["list"] : []
    labels   = ["shell"]
    content {
      inline = ["dpkg-query -W -f '$${Package} $${Version}\\n' | sort > /tmp/packages.txt"]
    }
  }
  dynamic "provisioner" {
    for_each = var.communicator == "ssh" ? ["download"] : []
    labels   = ["file"]
    content {
      direction   = "download"
      source      = "/tmp/packages.txt"
      destination = local.packages_file
    }
  }
  # Without a machine there is nothing to list: a file stands for the list.
  dynamic "provisioner" {
    for_each = var.communicator != "ssh" && var.packages_stand_in != "" ? ["stand-in"] : []
    labels   = ["shell-local"]
    content {
      inline = ["mkdir -p '${var.report_dir}'", "cp '${var.packages_stand_in}' '${local.packages_file}'"]
    }
  }

  post-processors {
    post-processor "imagefamily-release" {
      project_id = var.project_id
      family     = var.family
      # Recorded in the lineage labels: parent image, family and project.
      parent = data.imagefamily.parent.self_link
      # The name must follow the convention local.image_name follows.
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
      # A build whose packages, parent and version are the head's releases
      # nothing: its image is deleted and the family stays.
      content_manifest = local.content_manifest
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
