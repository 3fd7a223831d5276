// Package conformance walks every routed headless endpoint of several tenant
// configurations, with both clients, and validates every response against
// the OpenAPI document that tenant serves. The walk drives the real flows a
// frontend takes (mail read from the test SMTP listener, TOTP codes and
// software WebAuthn authenticators, a stand-in OpenID provider) and fails
// when an operation is never answered with a success or a documented status
// is never produced, unless the test lists it as unproducible with the
// reason. It has only tests; its summary goes to
// $HALLPASS_ARTIFACTS/conformance.txt, which `make test` prints.
package conformance
