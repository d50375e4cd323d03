package banking

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestEventTypesAreTheProtocols: the registry knows exactly the event
// types the API document lists for POST /v1/bank-events (the protocol's
// table, bank-protocol.md), and each type's subject is a credit line
// exactly for the credit_line.* types, whose envelope names no
// application.
func TestEventTypesAreTheProtocols(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../handlers/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Schema struct {
						Properties struct {
							Type struct {
								Enum []string `yaml:"enum"`
							} `yaml:"type"`
						} `yaml:"properties"`
					} `yaml:"schema"`
				} `yaml:"content"`
			} `yaml:"requestBody"`
		} `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := doc.Paths["/v1/bank-events"]["post"].RequestBody.Content["application/json"].Schema.Properties.Type.Enum
	if len(documented) == 0 {
		t.Fatal("openapi.yaml lists no event types for POST /v1/bank-events")
	}
	var registered []string
	for typ, newData := range eventTypes {
		registered = append(registered, typ)
		if line := newData().subject(Envelope{Type: typ}).line; line != strings.HasPrefix(typ, "credit_line.") {
			t.Errorf("%s: acts on a credit line %v", typ, line)
		}
	}
	slices.Sort(registered)
	slices.Sort(documented)
	if !slices.Equal(registered, documented) {
		t.Errorf("registered event types %v, documented %v", registered, documented)
	}
}
