# Layer 1: the base image, built on Debian's public image family and released
# into the family base-debian-12. See ../README.md.

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

# The parent: what Debian's family points to now, pinned for this build.
data "imagefamily" "debian" {
  project_id       = var.debian_project_id
  family           = "debian-12"
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

# A conventional, unique name, known before the build.
data "imagefamily-name" "base" {
  os       = "debian-12"
  software = "base"
  version  = var.base_version
}

source "googlecompute" "base" {
  project_id              = var.project_id
  zone                    = var.zone
  source_image            = data.imagefamily.debian.name
  source_image_project_id = [data.imagefamily.debian.project_id]
  image_name              = data.imagefamily-name.base.name
  image_description       = "Debian 12 with the platform's base configuration"
  # No image_family: the family moves only once the release checks pass.
  communicator     = var.communicator
  ssh_username     = var.ssh_username
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

build {
  sources = ["source.googlecompute.base"]

  # Provisioners that configure the base image go here (they need
  # communicator = "ssh").

  post-processors {
    post-processor "imagefamily-release" {
      project_id = var.project_id
      family     = "base-debian-12"
      parent     = data.imagefamily.debian.self_link
      naming {
        os       = "debian-12"
        software = "base"
        version  = var.base_version
      }
      labels = { team = "platform" }
      rotation {
        keep_active    = var.rotation.keep_active
        min_age        = var.rotation.min_age
        obsolete_after = var.rotation.obsolete_after
        delete_after   = var.rotation.delete_after
        purge_after    = var.rotation.purge_after
      }
      report_file      = "${var.report_dir}/base-release.json"
      access_token     = var.access_token
      custom_endpoints = local.custom_endpoints
    }
    post-processor "manifest" {
      output     = "${var.report_dir}/base-manifest.json"
      strip_path = true
    }
  }
}
