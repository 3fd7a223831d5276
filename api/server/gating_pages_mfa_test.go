package server_test

// The MFA, reauthentication, third-party and branding pages
// (web/accounts/mfapages, socialpages, web/accounts branding) are hosted account pages too: outside the catalog.
func init() {
	for _, route := range []string{
		"GET /accounts/2fa/",
		"GET /accounts/2fa/authenticate/",
		"GET /accounts/2fa/reauthenticate/",
		"GET /accounts/2fa/recovery-codes/",
		"GET /accounts/2fa/recovery-codes/download/",
		"GET /accounts/2fa/recovery-codes/generate/",
		"GET /accounts/2fa/totp/activate/",
		"GET /accounts/2fa/totp/deactivate/",
		"GET /accounts/2fa/trust/",
		"GET /accounts/2fa/webauthn/",
		"GET /accounts/2fa/webauthn/:id/remove/",
		"GET /accounts/2fa/webauthn/add/",
		"GET /accounts/2fa/webauthn/login/",
		"GET /accounts/branding/:name",
		"GET /accounts/reauthenticate/",
		"POST /accounts/2fa/authenticate/",
		"POST /accounts/2fa/authenticate/webauthn/options/",
		"POST /accounts/2fa/reauthenticate/",
		"POST /accounts/2fa/recovery-codes/generate/",
		"POST /accounts/2fa/totp/activate/",
		"POST /accounts/2fa/totp/deactivate/",
		"POST /accounts/2fa/trust/",
		"POST /accounts/2fa/webauthn/:id/edit/",
		"POST /accounts/2fa/webauthn/:id/remove/",
		"POST /accounts/2fa/webauthn/add/",
		"POST /accounts/2fa/webauthn/add/options/",
		"POST /accounts/2fa/webauthn/login/",
		"POST /accounts/2fa/webauthn/login/options/",
		"POST /accounts/reauthenticate/",
		"GET /accounts/3rdparty/",
		"POST /accounts/3rdparty/",
		"GET /accounts/3rdparty/login/error/",
	} {
		outsideCatalog[route] = true
	}
}
