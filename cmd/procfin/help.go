package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// commandDoc describes one command for the help: the list of commands and
// each command's own help (with its flags, read from its FlagSet).
type commandDoc struct {
	name    string // the words that name it: "serve", "users add"
	args    string // what follows its flags: "NAME", "FILE…"
	summary string // one line, for the list of commands
	about   string // more, for the command's own help ("" when the summary says it all)
}

// commands are every command run knows, in the order of the help
// (TestEveryCommandDocumented checks dispatch's switch against them).
var commands = []commandDoc{
	{name: "serve", summary: "run the service",
		about: "Runs until SIGINT or SIGTERM, then shuts down gracefully. A database schema\n" +
			"behind the code stops start-up unless --migrate is given."},
	{name: "migrate", summary: "apply pending database migrations and exit"},
	{name: "demo", summary: "run the service with demo users and sandbox banks on the private database",
		about: "Applies the migrations, creates the demo's users, issuer, suppliers and sandbox\n" +
			"banks (in this process), and serves until SIGINT or SIGTERM; README.md walks\n" +
			"through it."},
	{name: "users add", summary: "create a user, the password read from standard input",
		about: "Example: printf '%s\\n' \"$PASSWORD\" | procfin users add --username li --role officer"},
	{name: "users disable", args: "NAME", summary: "disable a user for good: their tokens and web sessions stop at once"},
	{name: "users password", args: "NAME", summary: "set a user's password from standard input: their tokens and sessions end"},
	{name: "import ocds", args: "FILE…", summary: "import award notices and contracts from OCDS release or record packages",
		about: "The issuer of each ocid is its publisher prefix (ocds-xxxxxx) unless --issuer\n" +
			"names one; it must be registered. Character sets: utf-8, gb18030 (gbk, cp936\n" +
			"and gb2312 are read as gb18030), iso-8859-1 (latin1). Without --charset a\n" +
			"byte order mark (UTF-8's or GB18030's) decides, else the first non-ASCII text:\n" +
			"valid UTF-8 is UTF-8, else Chinese text that reads as GB18030 is GB18030, else\n" +
			"ISO-8859-1. Prints progress and a summary of what was imported, updated,\n" +
			"unchanged and refused."},
	{name: "bench", summary: "load a running procfin and report throughput and latency percentiles"},
	{name: "sandbox-bank", summary: "run the sandbox partner bank as its own server",
		about: "Prints the bank's JWKS and the body an administrator posts to /v1/admin/banks\n" +
			"to register it, then serves until SIGINT or SIGTERM."},
	{name: "audit verify", summary: "seal what is committed, then check the audit trail's hash chain"},
	{name: "keys rotate", summary: "publish a new signing key: it signs after auth.key_rotation_lead"},
	{name: "help", args: "[COMMAND]", summary: "print this help, or a command's with every flag"},
}

const configHelp = `configuration: configs/defaults.yaml, then --config FILE, then the environment
(DATABASE_URL, PROCFIN_ADDR, PROCFIN_DATA_DIR, PROCFIN_MASTER_KEY, …).
exit status: 0 success, 1 failure, 2 a mistake in the command line.`

// usage is the program's help: one line per command.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: procfin [--config FILE] COMMAND [flags] [arguments]\n\ncommands:\n")
	synopsis := func(c commandDoc) string { return strings.TrimSpace(c.name + " " + c.args) }
	width := 0
	for _, c := range commands {
		width = max(width, utf8.RuneCountInString(synopsis(c)))
	}
	for _, c := range commands {
		s := synopsis(c)
		fmt.Fprintf(&b, "  %s%s  %s\n", s, strings.Repeat(" ", width-utf8.RuneCountInString(s)), c.summary)
	}
	b.WriteString("\n`procfin help COMMAND` or `procfin COMMAND --help` prints a command's flags.\n\n")
	b.WriteString(configHelp + "\n")
	return b.String()
}

// commandOf is the documented command args (without the program's name)
// name, or the group ("users") they name, and whether there is one.
func commandOf(words []string) (name string, ok bool) {
	if len(words) == 0 {
		return "", false
	}
	if len(words) > 1 {
		two := words[0] + " " + words[1]
		if slices.ContainsFunc(commands, func(c commandDoc) bool { return c.name == two }) {
			return two, true
		}
	}
	one := words[0]
	return one, slices.ContainsFunc(commands, func(c commandDoc) bool {
		return c.name == one || strings.HasPrefix(c.name, one+" ")
	})
}

// isGroup says whether name is the first word of commands with two
// ("users" of "users add").
func isGroup(name string) bool {
	return slices.ContainsFunc(commands, func(c commandDoc) bool { return strings.HasPrefix(c.name, name+" ") })
}

func isHelpFlag(s string) bool { return s == "-h" || s == "--h" || s == "-help" || s == "--help" }

// helpRequest is what a command returns for -h or --help: run prints the
// help of the command it names (of each command of a group when fs is nil)
// and exits 0.
type helpRequest struct {
	name string
	fs   *flag.FlagSet
}

func (h helpRequest) Error() string { return "help requested for " + h.name }

// flagError is the error of a command's flag set's Parse: a help request
// for -h and --help, otherwise a usage error naming the command.
func flagError(name string, fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return helpRequest{name: name, fs: fs}
	}
	return usageError{fmt.Errorf("%s: %v", name, err)}
}

// writeHelp writes the help h asks for.
func writeHelp(ctx context.Context, w io.Writer, h helpRequest) error {
	if h.fs == nil {
		first := true
		for _, c := range commands {
			if !strings.HasPrefix(c.name, h.name+" ") {
				continue
			}
			sub, err := helpOf(ctx, strings.Fields(c.name))
			if err != nil {
				return err
			}
			if !first {
				fmt.Fprintln(w)
			}
			first = false
			if err := writeHelp(ctx, w, sub); err != nil {
				return err
			}
		}
		return nil
	}
	c := commandDoc{name: h.name}
	if i := slices.IndexFunc(commands, func(c commandDoc) bool { return c.name == h.name }); i >= 0 {
		c = commands[i]
	}
	fmt.Fprintf(w, "usage: procfin %s", c.name)
	if hasFlags(h.fs) {
		fmt.Fprint(w, " [flags]")
	}
	if c.args != "" {
		fmt.Fprint(w, " "+c.args)
	}
	fmt.Fprintln(w)
	if c.summary != "" {
		fmt.Fprintf(w, "\n%s.\n", upperFirst(c.summary))
	}
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	if hasFlags(h.fs) {
		fmt.Fprint(w, "\nflags:\n")
		writeFlags(w, h.fs)
	}
	return nil
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// writeFlags lists every flag of fs with its argument, description and
// default, as flag.PrintDefaults does, with the two dashes the README uses.
func writeFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(f *flag.Flag) {
		arg, desc := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if arg != "" {
			line += " " + arg
		}
		if !isZeroDefault(f.DefValue) {
			if g, ok := f.Value.(flag.Getter); ok && isString(g.Get()) {
				desc += fmt.Sprintf(" (default %q)", f.DefValue)
			} else {
				desc += fmt.Sprintf(" (default %s)", f.DefValue)
			}
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, strings.ReplaceAll(desc, "\n", "\n        "))
	})
}

func isString(v any) bool { _, ok := v.(string); return ok }

func isZeroDefault(v string) bool { return v == "" || v == "0" || v == "false" || v == "0s" }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// helpOf is the help request of the command words name (run with --help).
func helpOf(ctx context.Context, words []string) (helpRequest, error) {
	args := append(append([]string{"procfin"}, words...), "--help")
	err := dispatch(ctx, args, func(string) string { return "" }, io.Discard)
	var h helpRequest
	if !errors.As(err, &h) {
		return h, fmt.Errorf("procfin %s --help: %v", strings.Join(words, " "), err)
	}
	return h, nil
}

// commandHelp is the help printed after a mistake in args: the help of the
// command args name, else the program's.
func commandHelp(ctx context.Context, args []string) string {
	var words []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--config" || a == "-config" {
			i++
			continue
		}
		if strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-config=") {
			continue
		}
		if strings.HasPrefix(a, "-") {
			return usage() // a mistake among the program's own flags
		}
		words = args[i:]
		break
	}
	name, ok := commandOf(words)
	if !ok || name == "help" {
		return usage()
	}
	var b strings.Builder
	var h helpRequest
	if isGroup(name) {
		h = helpRequest{name: name}
	} else {
		var err error
		if h, err = helpOf(ctx, strings.Fields(name)); err != nil {
			return usage()
		}
	}
	if err := writeHelp(ctx, &b, h); err != nil {
		return usage()
	}
	return b.String()
}

// exitCode runs the program and reports how it ended: 0 success; 1 a
// failure, one line on stderr; 2 a mistake in the command line, one line
// and the help of the command (or of the program) on stderr.
func exitCode(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	err := run(ctx, args, getenv, stdout)
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, "procfin:", oneLine(err))
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, commandHelp(ctx, args))
		return 2
	}
	return 1
}
