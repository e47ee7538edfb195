package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/sudoers"
)

// newGenDocsCmd is a build step rather than a user command: scripts/package.sh runs it
// so that the packages carry manual pages and completions that match the binary.
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
	if err := writeManPages(root, manDir); err != nil {
		return err
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

// writeManPages writes a page for cmd and each command below it that users may run;
// hidden commands (the worker, this generator) and cobra's help command get none.
func writeManPages(cmd *cobra.Command, dir string) error {
	if cmd.HasParent() && !cmd.IsAvailableCommand() {
		return nil
	}
	path := filepath.Join(dir, manName(cmd)+".1")
	if err := writeDocFile(path, manPage(cmd)); err != nil {
		return err
	}
	for _, sub := range cmd.Commands() {
		if err := writeManPages(sub, dir); err != nil {
			return err
		}
	}
	return nil
}

// manName is the page's name: "ftpctl user add" is ftpctl-user-add(1).
func manName(cmd *cobra.Command) string {
	return strings.ReplaceAll(cmd.CommandPath(), " ", "-")
}

// manPage renders cmd as a man(7) page.
func manPage(cmd *cobra.Command) []byte {
	var b bytes.Buffer
	name := manName(cmd)
	fmt.Fprintf(&b, ".TH %s 1 \"\" jelastic-ftp \"jelastic-ftp manual\"\n", roff(strings.ToUpper(name)))
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", roff(name), roff(cmd.Short))

	b.WriteString(".SH SYNOPSIS\n")
	fmt.Fprintf(&b, ".B %s\n", roff(cmd.CommandPath()))
	if _, args, ok := strings.Cut(cmd.Use, " "); ok {
		b.WriteString(roff(args) + "\n")
	} else if cmd.HasAvailableSubCommands() {
		b.WriteString("\\fICOMMAND\\fR\n")
	}

	b.WriteString(".SH DESCRIPTION\n")
	description := cmd.Long
	if description == "" {
		description = cmd.Short + "."
	}
	writeParagraphs(&b, description)

	if cmd.HasAvailableSubCommands() {
		b.WriteString(".SH COMMANDS\n")
		for _, sub := range cmd.Commands() {
			if sub.IsAvailableCommand() {
				fmt.Fprintf(&b, ".TP\n.BR %s (1)\n%s\n", roff(manName(sub)), roff(sub.Short))
			}
		}
	}
	writeFlags(&b, "OPTIONS", cmd.NonInheritedFlags())
	writeFlags(&b, "OPTIONS INHERITED FROM PARENT COMMANDS", cmd.InheritedFlags())
	if !cmd.HasParent() {
		writeRootSections(&b)
	}

	var related []string
	if cmd.HasParent() {
		related = append(related, manName(cmd.Parent()))
	}
	for _, sub := range cmd.Commands() {
		if sub.IsAvailableCommand() {
			related = append(related, manName(sub))
		}
	}
	if len(related) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		for i, r := range related {
			sep := ","
			if i == len(related)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, ".BR %s (1)%s\n", roff(r), sep)
		}
	}
	return b.Bytes()
}

// writeRootSections adds what concerns every command to ftpctl(1).
func writeRootSections(b *bytes.Buffer) {
	b.WriteString(".SH EXIT STATUS\n")
	b.WriteString(".TP\n0\nThe command did what was asked.\n")
	b.WriteString(".TP\n1\nThe command failed; the message on standard error says why.\n")
	b.WriteString(".TP\n2\nThe command line was wrong; nothing was changed.\n")
	b.WriteString(".SH FILES\n")
	for _, f := range []struct{ path, what string }{
		{config.DefaultPath, "The service's settings; every key is optional and documented in /usr/share/doc/jelastic-ftp/ftpd.toml.example."},
		{config.DefaultUsersPath, "Per-user options that /etc/passwd and /etc/shadow cannot hold, written by ftpctl user."},
		{sudoers.DefaultPath, "The rules that let the container owner change FTP users' passwords with sudo."},
	} {
		fmt.Fprintf(b, ".TP\n.I %s\n%s\n", roff(f.path), roff(f.what))
	}
}

// writeFlags lists the flags users may give, with their argument and default.
func writeFlags(b *bytes.Buffer, title string, flags *pflag.FlagSet) {
	var items bytes.Buffer
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		arg, usage := pflag.UnquoteUsage(f)
		items.WriteString(".TP\n")
		if f.Shorthand != "" {
			fmt.Fprintf(&items, "\\fB\\-%s\\fR, ", roff(f.Shorthand))
		}
		fmt.Fprintf(&items, "\\fB\\-\\-%s\\fR", roff(f.Name))
		if arg != "" {
			fmt.Fprintf(&items, " \\fI%s\\fR", roff(arg))
		}
		items.WriteString("\n" + roff(usage))
		if !zeroDefault(f.DefValue) {
			items.WriteString(" (default: " + roff(f.DefValue) + ")")
		}
		items.WriteString("\n")
	})
	if items.Len() > 0 {
		b.WriteString(".SH " + title + "\n")
		b.Write(items.Bytes())
	}
}

// writeParagraphs keeps the help text's paragraphs and indented lines (lists,
// commands) as they are laid out, and lets man fill the rest.
func writeParagraphs(b *bytes.Buffer, text string) {
	for _, para := range strings.Split(strings.TrimSpace(text), "\n\n") {
		b.WriteString(".PP\n")
		for _, line := range strings.Split(para, "\n") {
			if strings.HasPrefix(line, " ") {
				b.WriteString(".br\n")
			}
			b.WriteString(roffLine(line) + "\n")
		}
	}
}

// roffLine escapes one line of text: a line starting with a dot or an apostrophe
// would be read as a request.
func roffLine(line string) string {
	s := roff(line)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roff escapes text inside a line: backslashes, and hyphens, which man would otherwise
// typeset as dashes that cannot be copied into a shell.
func roff(s string) string {
	return strings.NewReplacer(`\`, `\e`, "-", `\-`).Replace(s)
}

// zeroDefault reports a default not worth printing: the flag's unset value.
func zeroDefault(v string) bool {
	switch v {
	case "", "false", "0", "0s", "[]":
		return true
	}
	return false
}
