# --- the layer: set by its variables file (../base.pkrvars.hcl, ...) ---------
#
# No defaults: a build without a layer's variables file stops at once with
# "Unset variable", rather than building some layer by accident.

variable "layer" {
  type        = string
  description = "The layer's short name: the build's name and the prefix of its reports (base, app, product)."
}

variable "family" {
  type        = string
  description = "The family the layer releases into, in project_id."
}

variable "parent_family" {
  type        = string
  description = "The family the layer builds on: its head now is the parent image."
}

variable "parent_project" {
  type        = string
  description = "The parent family's project; empty for project_id (a family of the hierarchy)."
  default     = ""
}

variable "os" {
  type        = string
  description = "The os part of the image names (the convention of data \"imagefamily-name\")."
  default     = "debian-12"
}

variable "software" {
  type        = string
  description = "The software part of the image names: what the layer adds."
}

variable "version" {
  type        = string
  description = "The version of that software, part of the image names."
}

variable "labels" {
  type        = map(string)
  description = "Labels the release writes on the image, besides the lineage labels."
  default     = {}
}

variable "in_use_projects" {
  type        = list(string)
  description = "Projects whose instances and instance templates may use the layer's images (the image project is always checked)."
  default     = []
}

# --- the environment: the same for every layer (a local.pkrvars.hcl, ...) ---

variable "project_id" {
  type        = string
  description = "The image project: where images are built and the families live."
  default     = "acme-images"
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

variable "packages_stand_in" {
  type        = string
  description = "Without a machine (communicator none: the demo, the emulator), a file on the runner standing for the machine's package list, copied as the layer's content manifest. Empty: no manifest without a machine. With communicator ssh the list always comes from the machine."
  default     = ""
}

locals {
  parent_project   = var.parent_project == "" ? var.project_id : var.parent_project
  custom_endpoints = var.compute_endpoint == "" ? {} : { compute = var.compute_endpoint }
  # The layer's content manifest: the image's packages, one "name version" a
  # line. The release compares its digest with the head's and releases only
  # a change; "" when the build lists nothing.
  packages_file    = "${var.report_dir}/${var.layer}-packages.txt"
  content_manifest = var.communicator == "ssh" || var.packages_stand_in != "" ? local.packages_file : ""
}
