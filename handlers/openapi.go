package handlers

import (
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/gin-gonic/gin"
	"go.yaml.in/yaml/v3"
)

//go:embed openapi.yaml
var openAPIYAML []byte

// openAPIJSON is the OpenAPI document, converted once from YAML.
var openAPIJSON = func() []byte {
	var doc any
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		panic(fmt.Sprintf("openapi.yaml: %v", err))
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic(fmt.Sprintf("openapi.yaml: %v", err))
	}
	return b
}()

// OpenAPI returns the served OpenAPI document (JSON).
func OpenAPI() []byte { return openAPIJSON }

func (s *server) openAPI(c *gin.Context) {
	c.Data(200, "application/json", openAPIJSON)
}
