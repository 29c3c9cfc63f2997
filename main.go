// Command packer-plugin-imagefamily is the Packer plugin binary. It registers
// the suite's components; all decisions live in internal/lifecycle.
package main

import (
	"fmt"
	"os"

	"github.com/hashicorp/packer-plugin-sdk/plugin"

	"github.com/immutable-infra/packer-plugin-imagefamily/builder/promote"
	"github.com/immutable-infra/packer-plugin-imagefamily/datasource/family"
	"github.com/immutable-infra/packer-plugin-imagefamily/datasource/imagename"
	"github.com/immutable-infra/packer-plugin-imagefamily/post-processor/release"
	"github.com/immutable-infra/packer-plugin-imagefamily/version"
)

func main() {
	pps := plugin.NewSet()
	pps.RegisterDatasource(plugin.DEFAULT_NAME, new(family.Datasource))
	pps.RegisterDatasource("name", new(imagename.Datasource))
	pps.RegisterBuilder("promote", new(promote.Builder))
	pps.RegisterPostProcessor("release", new(release.PostProcessor))
	pps.SetVersion(version.PluginVersion)
	if err := pps.Run(); err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		os.Exit(1)
	}
}
