//go:build docs

package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/jelastic/jelastic-ftp/agent/config"
)

// newGenDocsCmd is a build step rather than a user command: scripts/package.sh runs it
// (go run -tags docs) so that the packages carry manual pages and completions that match
// the binary. cobra/doc brings a Markdown parser and a YAML encoder, which the binary
// that is installed does without.
func init() { buildSteps = append(buildSteps, newGenDocsCmd) }

func newGenDocsCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "gen-docs DIR",
		Hidden: true,
		Short:  "Write manual pages, shell completions and an example ftpd.toml into DIR",
		Long: `Write into DIR:
  man/ftpctl*.1           a manual page per command
  completions/ftpctl.bash, completions/_ftpctl, completions/ftpctl.fish
  ftpd.toml.example       every setting with its default and meaning`,
		Args: exactArgs(1, "the output folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return genDocs(cmd.Root(), args[0])
		},
	}
}

func genDocs(root *cobra.Command, dir string) error {
	manDir := filepath.Join(dir, "man")
	if err := os.MkdirAll(manDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", manDir, err)
	}
	// Hidden commands (the worker, this generator) and help get no page; no generation
	// date, so that two builds of one version give the same package. No title either:
	// each page is then headed with its own command, FTPCTL-USER-ADD(1).
	root.DisableAutoGenTag = true
	err := doc.GenManTreeFromOpts(root, doc.GenManTreeOptions{
		Header:           &doc.GenManHeader{Section: "1", Source: "jelastic-ftp", Manual: "jelastic-ftp manual"},
		Path:             manDir,
		CommandSeparator: "-",
	})
	if err != nil {
		return fmt.Errorf("write the manual pages: %w", err)
	}
	compDir := filepath.Join(dir, "completions")
	if err := os.MkdirAll(compDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", compDir, err)
	}
	completions := map[string]func(io.Writer) error{
		"ftpctl.bash": func(w io.Writer) error { return root.GenBashCompletionV2(w, true) },
		"_ftpctl":     root.GenZshCompletion,
		"ftpctl.fish": func(w io.Writer) error { return root.GenFishCompletion(w, true) },
	}
	for name, gen := range completions {
		var b bytes.Buffer
		if err := gen(&b); err != nil {
			return fmt.Errorf("generate the %s completion: %w", name, err)
		}
		if err := writeDocFile(filepath.Join(compDir, name), b.Bytes()); err != nil {
			return err
		}
	}
	example, err := config.Marshal(config.Default())
	if err != nil {
		return err
	}
	return writeDocFile(filepath.Join(dir, "ftpd.toml.example"), example)
}

func writeDocFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
