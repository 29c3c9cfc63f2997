// Package version holds the plugin's version, shared by the plugin binary and
// the CLI so that both report the same release.
package version

import "github.com/hashicorp/packer-plugin-sdk/version"

var (
	// Version is set at release time by goreleaser through -ldflags.
	Version = "0.1.0"
	// VersionPrerelease marks development builds; goreleaser clears it.
	VersionPrerelease = "dev"
	// VersionMetadata is optional build metadata.
	VersionMetadata = ""

	// PluginVersion is what `packer-plugin-imagefamily describe` reports.
	PluginVersion = version.NewPluginVersion(Version, VersionPrerelease, VersionMetadata)
)
