// Package openapi holds django-allauth's headless OpenAPI specification
// (MIT, © Raymond Penners and contributors; provenance in
// LICENSE-allauth.txt) and the corrections that make it describe what
// allauth's code really does.
package openapi

import _ "embed"

// AllauthSpec is allauth-headless-openapi.yaml, byte-for-byte as copied
// from allauth. Its info.description is an unresolvable
// `$ref: "./description.md"`; LoadConformant handles that.
//
//go:embed allauth-headless-openapi.yaml
var AllauthSpec []byte
