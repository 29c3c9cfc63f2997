# Layer 1, the base image: the platform's base configuration on Debian's
# public image family, released into base-debian-12.
#   packer build -var-file=example/base.pkrvars.hcl example/layer

layer          = "base"
family         = "base-debian-12"
parent_project = "debian-cloud"
parent_family  = "debian-12"
software       = "base"
version        = "2026.11"
labels         = { team = "platform" }
