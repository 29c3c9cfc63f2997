# The same in every layer (example/*/variables.pkr.hcl), so that one set of
# -var flags or one .pkrvars.hcl file drives the whole hierarchy.

variable "project_id" {
  type        = string
  description = "The image project: where images are built and the families live."
  default     = "acme-images"
}

variable "debian_project_id" {
  type        = string
  description = "The project of Debian's public image family (debian-cloud on Google Cloud)."
  default     = "debian-cloud"
}

variable "base_version" {
  type    = string
  default = "2026.11"
}

variable "nginx_version" {
  type    = string
  default = "1.26.2"
}

variable "shop_version" {
  type    = string
  default = "3.4.0"
}

variable "zone" {
  type    = string
  default = "us-central1-a"
}

variable "compute_endpoint" {
  type        = string
  description = "A Compute Engine endpoint override such as the emulator's http://127.0.0.1:PORT/compute/v1/; empty for Google's."
  default     = ""
}

variable "access_token" {
  type        = string
  description = "An OAuth access token; empty to use application default credentials. The emulator takes any value."
  default     = ""
  sensitive   = true
}

variable "communicator" {
  type        = string
  description = "none builds an image without provisioning (the demo); ssh for provisioners."
  default     = "none"
}

variable "ssh_username" {
  type    = string
  default = "packer"
}

variable "rotation" {
  type = object({
    keep_active    = number
    min_age        = string
    obsolete_after = string
    delete_after   = string
    purge_after    = string
  })
  description = "The rotation policy; the defaults are the plugin's."
  default = {
    keep_active    = 2
    min_age        = "1h"
    obsolete_after = "7d"
    delete_after   = "30d"
    purge_after    = "7d"
  }
}

variable "report_dir" {
  type        = string
  description = "Where the release reports and the manifest are written."
  default     = "reports"
}

locals {
  custom_endpoints = var.compute_endpoint == "" ? {} : { compute = var.compute_endpoint }
}
