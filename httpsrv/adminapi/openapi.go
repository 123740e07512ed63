package adminapi

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// openAPIDoc is the OpenAPI 3.0 description of every route; a test keeps
// it and the route table in step.
//
//go:embed openapi.json
var openAPIDoc []byte

// openAPI serves the description. It is behind the bearer token like
// every other route.
func (a *api) openAPI(*http.Request) (reply, error) {
	return ok(json.RawMessage(openAPIDoc)), nil
}
