package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is the package version, set by scripts/package.sh with
// -ldflags "-X main.version=1.2.3"; other builds take it from the build info.
var version string

// versionString is version, else the module version `go install` records, else
// "devel" with the commit a `go build` in a checkout records.
func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	v := "devel"
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		v += "+" + rev[:min(12, len(rev))]
		if settings["vcs.modified"] == "true" {
			v += "-dirty"
		}
	}
	return v
}

// versionOut is the JSON answer of `ftpctl version --json`.
type versionOut struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
}

func newVersionCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version [--json]",
		Short: "Print the version of ftpctl (also: ftpctl --version)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return printJSON(cmd, versionOut{Version: versionString(), GoVersion: runtime.Version()})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ftpctl %s\n", versionString())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
