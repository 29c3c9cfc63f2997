variable "project" {
  description = "The project the instances run in."
  type        = string
}

variable "image_project" {
  description = "The project holding the released images (the post-processor's project_id)."
  type        = string
  default     = "acme-images"
}

variable "image" {
  description = "The released image to deploy, by name: the release report's image, Packer's manifest artifact_id, or `imagefamily status`. Changing it is the reviewed change that rolls the group."
  type        = string
}

variable "region" {
  type    = string
  default = "us-central1"
}

variable "zone" {
  type    = string
  default = "us-central1-a"
}

variable "size" {
  description = "Instances in the group."
  type        = number
  default     = 2
}

variable "compute_endpoint" {
  description = "A Compute Engine endpoint override, such as the local emulator's IMAGEFAMILY_COMPUTE_ENDPOINT (http://127.0.0.1:8085); empty for Google's."
  type        = string
  default     = ""
}

variable "access_token" {
  description = "An OAuth 2.0 access token; empty for application default credentials. Any value satisfies the emulator."
  type        = string
  default     = ""
  sensitive   = true
}
