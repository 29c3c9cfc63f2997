# Layer 2: nginx on the base image, released into the family app-nginx.
# See ../README.md.

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

# The parent: what base-debian-12 points to now, pinned for this build.
data "imagefamily" "base" {
  project_id       = var.project_id
  family           = "base-debian-12"
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

data "imagefamily-name" "app" {
  os       = "debian-12"
  software = "nginx"
  version  = var.nginx_version
}

source "googlecompute" "app" {
  project_id              = var.project_id
  zone                    = var.zone
  source_image            = data.imagefamily.base.name
  source_image_project_id = [data.imagefamily.base.project_id]
  image_name              = data.imagefamily-name.app.name
  image_description       = "nginx ${var.nginx_version} on ${data.imagefamily.base.name}"
  communicator            = var.communicator
  ssh_username            = var.ssh_username
  access_token            = var.access_token
  custom_endpoints        = local.custom_endpoints
}

build {
  sources = ["source.googlecompute.app"]

  # Provisioners that install nginx go here (communicator = "ssh").

  post-processors {
    post-processor "imagefamily-release" {
      project_id = var.project_id
      family     = "app-nginx"
      parent     = data.imagefamily.base.self_link
      naming {
        os       = "debian-12"
        software = "nginx"
        version  = var.nginx_version
      }
      labels = { team = "web" }
      rotation {
        keep_active    = var.rotation.keep_active
        min_age        = var.rotation.min_age
        obsolete_after = var.rotation.obsolete_after
        delete_after   = var.rotation.delete_after
        purge_after    = var.rotation.purge_after
        # Images named by instance templates or booted by instances are
        # never rotated (the default); list the projects that use them.
        check_in_use    = true
        in_use_projects = []
      }
      report_file      = "${var.report_dir}/app-release.json"
      access_token     = var.access_token
      custom_endpoints = local.custom_endpoints
    }
    post-processor "manifest" {
      output     = "${var.report_dir}/app-manifest.json"
      strip_path = true
    }
  }
}
