package main

import (
	"context"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// procfinExit runs the program as main does, in process: its exit code,
// stdout and stderr.
func procfinExit(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var o, e strings.Builder
	code = exitCode(context.Background(), append([]string{"procfin"}, args...), func(k string) string { return env[k] }, &o, &e)
	return code, o.String(), e.String()
}

func TestHelp(t *testing.T) {
	t.Parallel()
	// The program's help: every command on one line with its summary.
	top := usage()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"help", "help"}, {"--config", "x.yaml", "--help"}} {
		code, out, errOut := procfinExit(nil, args...)
		if code != 0 || errOut != "" || out != top {
			t.Errorf("procfin %v: exit %d, stderr %q, stdout\n%s", args, code, errOut, out)
		}
	}
	for _, c := range commands {
		line := `(?m)^  ` + regexp.QuoteMeta(strings.TrimSpace(c.name+" "+c.args)) + ` +` + regexp.QuoteMeta(c.summary) + `$`
		if !regexp.MustCompile(line).MatchString(top) || strings.Contains(c.summary, "\n") {
			t.Errorf("the usage has no line for %q:\n%s", c.name, top)
		}
	}

	// Each command's help, asked three ways, lists every flag of its flag
	// set with its description and default.
	for _, c := range commands {
		if c.name == "help" {
			continue
		}
		words := strings.Fields(c.name)
		h, err := helpOf(context.Background(), words)
		if err != nil || h.fs == nil || h.name != c.name {
			t.Fatalf("%s: %+v %v", c.name, h, err)
		}
		var want string
		for i, args := range [][]string{append(words[:len(words):len(words)], "--help"), append(words[:len(words):len(words)], "-h"),
			append([]string{"help"}, words...)} {
			code, out, errOut := procfinExit(nil, args...)
			if code != 0 || errOut != "" || !strings.HasPrefix(out, "usage: procfin "+c.name) {
				t.Errorf("procfin %v: exit %d, stderr %q, stdout\n%s", args, code, errOut, out)
			}
			if i == 0 {
				want = out
			} else if out != want {
				t.Errorf("procfin %v differs from procfin %s --help:\n%s", args, c.name, out)
			}
		}
		n := 0
		h.fs.VisitAll(func(f *flag.Flag) {
			n++
			arg, desc := flag.UnquoteUsage(f)
			if strings.TrimSpace(desc) == "" {
				t.Errorf("procfin %s --%s has no description", c.name, f.Name)
			}
			entry := strings.TrimRight("\n  --"+f.Name+" "+arg, " ") + "\n        " + strings.SplitN(desc, "\n", 2)[0]
			i := strings.Index(want, entry)
			if i < 0 {
				t.Errorf("procfin %s --help lacks --%s:\n%s", c.name, f.Name, want)
				return
			}
			own, _, _ := strings.Cut(want[i+len(entry):], "\n  --")
			if !isZeroDefault(f.DefValue) && !strings.Contains(own, "(default "+f.DefValue) && !strings.Contains(own, `(default "`+f.DefValue+`")`) {
				t.Errorf("procfin %s --%s: no default %q in %q", c.name, f.Name, f.DefValue, own)
			}
		})
		if n == 0 {
			t.Errorf("procfin %s has no flags", c.name)
		}
	}

	// A group's help is its commands' helps.
	for _, args := range [][]string{{"users", "--help"}, {"help", "users"}, {"users", "-h"}} {
		code, out, errOut := procfinExit(nil, args...)
		if code != 0 || errOut != "" {
			t.Errorf("procfin %v: exit %d, stderr %q", args, code, errOut)
		}
		for _, sub := range []string{"usage: procfin users add [flags]\n", "usage: procfin users disable [flags] NAME\n",
			"usage: procfin users password [flags] NAME\n", "--purchaser-issuer ISSUER"} {
			if !strings.Contains(out, sub) {
				t.Errorf("procfin %v lacks %q:\n%s", args, sub, out)
			}
		}
	}
	for _, args := range [][]string{{"import", "--help"}, {"help", "import"}, {"audit", "-h"}, {"keys", "--help"}} {
		if code, out, _ := procfinExit(nil, args...); code != 0 || !strings.HasPrefix(out, "usage: procfin "+args[len(args)-1]+" ") &&
			!strings.HasPrefix(out, "usage: procfin "+args[0]+" ") {
			t.Errorf("procfin %v: exit %d\n%s", args, code, out)
		}
	}
}

// A mistake in the command line: one line saying what, then the help of
// the command (or the program's) on stderr, nothing on stdout, exit 2. A
// failure: one line, exit 1.
func TestCommandLineMistakes(t *testing.T) {
	t.Parallel()
	top := usage()
	for _, tc := range []struct {
		args       []string
		msg, usage string
	}{
		{nil, "procfin: no command\n", top},
		{[]string{"frobnicate"}, `procfin: unknown command "frobnicate"` + "\n", top},
		{[]string{"--nope", "serve"}, "procfin: flag provided but not defined: -nope\n", top},
		{[]string{"help", "nope"}, `procfin: help: unknown command "nope"` + "\n", top},
		{[]string{"help", "serve", "now"}, `procfin: help: unknown command "serve now"` + "\n", top},
		{[]string{"serve", "--nope"}, "procfin: serve: flag provided but not defined: -nope\n", "usage: procfin serve [flags]\n"},
		{[]string{"--config", "c.yaml", "migrate", "extra"}, `procfin: migrate: unexpected argument "extra"` + "\n", "usage: procfin migrate [flags]\n"},
		{[]string{"users", "add", "--role", "admin"}, "procfin: users add: --username and --role are required\n", "usage: procfin users add [flags]\n"},
		{[]string{"users", "disable"}, "procfin: users disable: give one user name\n", "usage: procfin users disable [flags] NAME\n"},
		{[]string{"users"}, "procfin: users: the subcommand is add\n", "usage: procfin users add [flags]\n"},
		{[]string{"import", "ocds"}, "procfin: import ocds: name at least one file\n", "usage: procfin import ocds [flags] FILE…\n"},
		{[]string{"sandbox-bank", "--life", "forever"}, "procfin: sandbox-bank: --life \"forever\" is not one of", "usage: procfin sandbox-bank [flags]\n"},
		{[]string{"bench", "--clients", "2"}, "procfin: bench: --scenario is required", "usage: procfin bench [flags]\n"},
		{[]string{"keys", "rotate", "now"}, `procfin: keys rotate: unexpected argument "now"` + "\n", "usage: procfin keys rotate [flags]\n"},
	} {
		code, out, errOut := procfinExit(nil, tc.args...)
		msg, help, _ := strings.Cut(errOut, "\n\n")
		if code != 2 || out != "" || !strings.HasPrefix(errOut, tc.msg) || strings.Contains(msg, "usage:") || !strings.HasPrefix(help, tc.usage) {
			t.Errorf("procfin %v: exit %d, stdout %q, stderr\n%s", tc.args, code, out, errOut)
		}
	}
	// A failure that is not the command line's: one line, no help.
	code, out, errOut := procfinExit(map[string]string{"PROCFIN_LOG_LEVEL": "loud"}, "serve")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "procfin: configuration:") || strings.Count(errOut, "\n") != 1 || strings.Contains(errOut, "usage:") {
		t.Errorf("bad configuration: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// Every command dispatch runs has a line in commands, and every line
// names a command dispatch runs: read from dispatch's switch on cmd.
func TestEveryCommandDocumented(t *testing.T) {
	t.Parallel()
	file, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	run := map[string]bool{"help": true} // answered before the switch
	ast.Inspect(file, func(n ast.Node) bool {
		if f, ok := n.(*ast.FuncDecl); ok && f.Name.Name != "dispatch" {
			return false
		}
		sw, ok := n.(*ast.SwitchStmt)
		if !ok {
			return true
		}
		if tag, ok := sw.Tag.(*ast.Ident); !ok || tag.Name != "cmd" {
			return true
		}
		for _, c := range sw.Body.List {
			for _, e := range c.(*ast.CaseClause).List {
				if lit, ok := e.(*ast.BasicLit); ok {
					name, _ := strconv.Unquote(lit.Value)
					run[name] = true
				}
			}
		}
		return false
	})
	if len(run) < 10 {
		t.Fatalf("dispatch's switch not found: %v", run)
	}
	documented := map[string]bool{}
	for _, c := range commands {
		documented[strings.Fields(c.name)[0]] = true
	}
	for name := range run {
		if !documented[name] {
			t.Errorf("procfin %s has no line in commands (help.go)", name)
		}
	}
	for name := range documented {
		if !run[name] {
			t.Errorf("commands (help.go) names %s, which dispatch does not run", name)
		}
	}
}
