# Layer 2, the app image: nginx on the head of base-debian-12, released into
# app-nginx.
#   packer build -var-file=example/app.pkrvars.hcl example/layer

layer         = "app"
family        = "app-nginx"
parent_family = "base-debian-12"
software      = "nginx"
version       = "1.26.2"
labels        = { team = "web" }
# Where the instances and instance templates that boot nginx images live:
# images they use are never rotated (the image project is always checked).
in_use_projects = []
