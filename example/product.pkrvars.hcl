# Layer 3, the product image: the shop on the head of app-nginx, released
# into product-shop.
#   packer build -var-file=example/product.pkrvars.hcl example/layer

layer         = "product"
family        = "product-shop"
parent_family = "app-nginx"
software      = "shop"
version       = "3.4.0"
labels        = { team = "shop" }
