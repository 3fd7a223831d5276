// Package conformance walks every routed headless endpoint of several tenant
// configurations, with both clients, and validates every response against
// the OpenAPI document that tenant serves. It has only tests; its summary
// goes to $HALLPASS_ARTIFACTS/conformance.txt, which `make test` prints.
package conformance
