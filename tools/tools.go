//go:build tools

// Package tools pins the packer binary and the official googlecompute plugin
// that the end-to-end tests drive. It lives in its own module so that their
// large dependency graphs never leak into the plugin's go.mod.
package tools

import (
	_ "github.com/hashicorp/packer"
	_ "github.com/hashicorp/packer-plugin-googlecompute"
)
