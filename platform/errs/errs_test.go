package errs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"strconv"
	"testing"
)

// TestEveryCodeHasAStatus: each Code constant declared in this package is
// in the one table, with an error status and a title.
func TestEveryCodeHasAStatus(t *testing.T) {
	t.Parallel()
	f, err := parser.ParseFile(token.NewFileSet(), "errs.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit := v.(*ast.BasicLit)
				s, _ := strconv.Unquote(lit.Value)
				code := Code(s)
				declared++
				if _, ok := table[code]; !ok {
					t.Errorf("%s has no status", code)
					continue
				}
				if st := Status(code); st < 400 || http.StatusText(st) == "" || Title(code) == "" {
					t.Errorf("%s: status %d, title %q", code, st, Title(code))
				}
			}
		}
	}
	if declared == 0 || declared != len(Codes()) {
		t.Fatalf("%d codes declared, %d in the table", declared, len(Codes()))
	}
	if Status("no_such_code") != http.StatusInternalServerError || StatusOf(nil) != http.StatusInternalServerError {
		t.Fatal("an unknown code is not internal")
	}
}
