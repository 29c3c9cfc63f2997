# The Terraform half of the pipeline: Packer builds and releases the image
# (../layer, imagefamily-release); Terraform deploys the released image,
# pinned by name, with an instance template and a managed instance group.
# A new release changes nothing here until var.image changes: then the
# template is replaced and the group rolls its instances to it.

provider "google" {
  project = var.project
  region  = var.region
  zone    = var.zone

  access_token            = var.access_token == "" ? null : var.access_token
  compute_custom_endpoint = var.compute_endpoint == "" ? null : "${var.compute_endpoint}/compute/v1/"
  # Against the emulator: no user-info lookup at start, and one request per
  # call (the emulator serves gcloud's batch endpoint, not the provider's).
  universe_domain = var.compute_endpoint == "" ? null : "emulator.invalid"
  batching {
    enable_batching = false
  }
}

# Pinned: a different image only when var.image changes.
data "google_compute_image" "release" {
  project = var.image_project
  name    = var.image
}

resource "google_compute_instance_template" "app" {
  name_prefix  = "app-"
  machine_type = "e2-small"
  labels = {
    image = data.google_compute_image.release.name
  }

  disk {
    boot         = true
    auto_delete  = true
    source_image = data.google_compute_image.release.self_link
  }

  network_interface {
    network = "default"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_instance_group_manager" "app" {
  name               = "app"
  zone               = var.zone
  base_instance_name = "app"
  target_size        = var.size

  version {
    instance_template = google_compute_instance_template.app.self_link
  }

  # Replace the instances as soon as the template changes, one at a time.
  update_policy {
    type                  = "PROACTIVE"
    minimal_action        = "REPLACE"
    max_surge_fixed       = 1
    max_unavailable_fixed = 0
  }
}
