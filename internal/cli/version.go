package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of marvel",
		Long: `Print the module version marvel was built from (as recorded by the Go
toolchain: a tag, a pseudo-version, or "(devel)"), the VCS revision when the
build recorded one, and the Go version and platform.`,
		Args: a.usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(a.out(), versionLine(debug.ReadBuildInfo()))
			return err
		},
	}
}

// versionLine formats build information as one line.
func versionLine(bi *debug.BuildInfo, ok bool) string {
	version, rev, dirty := "(unknown)", "", false
	if ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	line := "marvel " + version
	// A pseudo-version already names the revision; "(devel)" does not.
	if rev != "" && (version == "(devel)" || version == "(unknown)") {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if dirty {
			rev += "-dirty"
		}
		line += " (" + rev + ")"
	}
	return line + " " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
}
