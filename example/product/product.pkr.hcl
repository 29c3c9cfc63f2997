# Layer 3: the shop on the nginx image, released into the family
# product-shop. See ../README.md.

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

# The parent: what app-nginx points to now, pinned for this build.
data "imagefamily" "app" {
  project_id       = var.project_id
  family           = "app-nginx"
  access_token     = var.access_token
  custom_endpoints = local.custom_endpoints
}

data "imagefamily-name" "product" {
  os       = "debian-12"
  software = "shop"
  version  = var.shop_version
}

source "googlecompute" "product" {
  project_id              = var.project_id
  zone                    = var.zone
  source_image            = data.imagefamily.app.name
  source_image_project_id = [data.imagefamily.app.project_id]
  image_name              = data.imagefamily-name.product.name
  image_description       = "shop ${var.shop_version} on ${data.imagefamily.app.name}"
  communicator            = var.communicator
  ssh_username            = var.ssh_username
  access_token            = var.access_token
  custom_endpoints        = local.custom_endpoints
}

build {
  sources = ["source.googlecompute.product"]

  # Provisioners that install the shop go here (communicator = "ssh").

  post-processors {
    post-processor "imagefamily-release" {
      project_id = var.project_id
      family     = "product-shop"
      parent     = data.imagefamily.app.self_link
      naming {
        os       = "debian-12"
        software = "shop"
        version  = var.shop_version
      }
      labels = { team = "shop" }
      rotation {
        keep_active    = var.rotation.keep_active
        min_age        = var.rotation.min_age
        obsolete_after = var.rotation.obsolete_after
        delete_after   = var.rotation.delete_after
        purge_after    = var.rotation.purge_after
      }
      report_file      = "${var.report_dir}/product-release.json"
      access_token     = var.access_token
      custom_endpoints = local.custom_endpoints
    }
    post-processor "manifest" {
      output     = "${var.report_dir}/product-manifest.json"
      strip_path = true
    }
  }
}
