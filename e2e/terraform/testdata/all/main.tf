# Every resource kind the emulator serves to Terraform, against
# `imagefamily emulator`: e2e/terraform applies it, re-plans it, refreshes
# it, rotates the family the resources use and destroys it.

terraform {
  required_providers {
    google = {
      source = "hashicorp/google"
    }
  }
}

variable "endpoint" { type = string }
variable "project" { type = string }
variable "image_project" { type = string }
variable "family" { type = string }
variable "template_image" { type = string }
variable "regional_template_image" { type = string }

provider "google" {
  project                 = var.project
  region                  = "us-central1"
  zone                    = "us-central1-a"
  access_token            = "emulator-token-not-a-secret"
  compute_custom_endpoint = "${var.endpoint}/compute/v1/"
  universe_domain         = "emulator.invalid"
  batching {
    enable_batching = false
  }
}

data "google_compute_image" "head" {
  project = var.image_project
  family  = var.family
}

data "google_compute_image" "for_template" {
  project = var.image_project
  name    = var.template_image
}

data "google_compute_image" "for_regional_template" {
  project = var.image_project
  name    = var.regional_template_image
}

resource "google_compute_instance" "vm" {
  name         = "vm-1"
  machine_type = "e2-small"
  boot_disk {
    initialize_params {
      image = data.google_compute_image.head.self_link
    }
  }
  network_interface {
    network = "default"
  }
}

resource "google_compute_disk" "data" {
  name  = "data-1"
  image = data.google_compute_image.head.self_link
  size  = 20
}

resource "google_compute_image" "snapshot" {
  name        = "vm-data-image"
  source_disk = google_compute_disk.data.self_link
}

resource "google_compute_instance_template" "web" {
  name_prefix  = "web-"
  machine_type = "e2-small"
  disk {
    source_image = data.google_compute_image.for_template.self_link
  }
  network_interface {
    network = "default"
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "google_compute_region_instance_template" "web" {
  name         = "web-regional"
  region       = "us-central1"
  machine_type = "e2-small"
  disk {
    source_image = data.google_compute_image.for_regional_template.self_link
  }
  network_interface {
    network = "default"
  }
}

resource "google_compute_instance_group_manager" "web" {
  name               = "web"
  zone               = "us-central1-a"
  base_instance_name = "web"
  target_size        = 2
  version {
    instance_template = google_compute_instance_template.web.self_link
  }
}

resource "google_compute_region_instance_group_manager" "web" {
  name               = "web-regional"
  region             = "us-central1"
  base_instance_name = "webr"
  target_size        = 3
  version {
    instance_template = google_compute_region_instance_template.web.self_link
  }
}
