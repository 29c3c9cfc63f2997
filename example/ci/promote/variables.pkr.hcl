variable "family" {
  type        = string
  description = "The family to promote: its dev head goes to prod's family of the same name."
}

variable "image" {
  type        = string
  description = "The dev image to promote (the dev family's head when the pipeline read it)."
}

variable "dev_project" {
  type        = string
  description = "Where the image was built, released and tested."
}

variable "prod_project" {
  type        = string
  description = "Where it is promoted to and released."
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

variable "rotation" {
  type = object({
    keep_active    = number
    min_age        = string
    obsolete_after = string
    delete_after   = string
    purge_after    = string
  })
  description = "The rotation policy of prod's family; the defaults are the plugin's."
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
  description = "Where the release report and the manifest are written."
  default     = "reports"
}

locals {
  custom_endpoints = var.compute_endpoint == "" ? {} : { compute = var.compute_endpoint }
}
