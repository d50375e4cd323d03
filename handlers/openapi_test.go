package handlers

import (
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
)

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// splitRoutes are gin routes that serve several documented paths: gin
// cannot route a parameter followed by a literal ({id}.csv), so one route
// takes the whole last segment and its handler accepts only the documented
// suffixes (TestSubsidyBatchExportPaths checks that).
var splitRoutes = map[string][]string{
	"GET /v1/subsidy-batches/{file}": {"GET /v1/subsidy-batches/{id}.csv", "GET /v1/subsidy-batches/{id}.xlsx"},
}

// TestOpenAPIMatchesRoutes fails when the router has a route the document
// lacks, or the document a route the router lacks.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var served []string
	for _, r := range e.h.(*gin.Engine).Routes() {
		route := r.Method + " " + ginParam.ReplaceAllString(r.Path, "{$1}")
		if paths, ok := splitRoutes[route]; ok {
			served = append(served, paths...)
			continue
		}
		served = append(served, route)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	res := e.do("GET", "/openapi.json", "", nil)
	if err := json.Unmarshal(res.body, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi %q, want 3.1", doc.OpenAPI)
	}
	var documented []string
	for path, item := range doc.Paths {
		for method := range item {
			switch method {
			case "get", "post", "put", "patch", "delete":
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(served)
	sort.Strings(documented)
	if diff := cmp.Diff(documented, served); diff != "" {
		t.Fatalf("openapi.yaml and routes.go disagree (-documented +served):\n%s", diff)
	}
}

// TestOpenAPIRefsResolve catches a $ref to a component that does not exist.
func TestOpenAPIRefsResolve(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`"\$ref":"#/([^"]+)"`).FindAllStringSubmatch(string(OpenAPI()), -1)
	if len(refs) == 0 {
		t.Fatal("no $refs found: the check checks nothing")
	}
	for _, m := range refs {
		var node any = doc
		for _, part := range strings.Split(m[1], "/") {
			obj, ok := node.(map[string]any)
			if !ok || obj[part] == nil {
				t.Fatalf("$ref #/%s does not resolve", m[1])
			}
			node = obj[part]
		}
	}
}
