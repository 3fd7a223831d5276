package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/failure/failuretest"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// answer is what api.ErrorHandler sends for err.
func answer(t *testing.T, err error) (status int, retryAfter, body string) {
	t.Helper()
	app := fiber.New(fiber.Config{ErrorHandler: api.ErrorHandler(slog.New(slog.DiscardHandler))})
	app.Get("/", func(*fiber.Ctx) error { return err })
	res, terr := app.Test(httptest.NewRequest("GET", "/", nil))
	if terr != nil {
		t.Fatal(terr)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), string(b)
}

// The headless API answers 503 exactly for the errors the console's error
// page does (console's TestFailurePageClassifiesAsTheAPI runs the same
// table), anything else unexpected 500.
func TestErrorHandlerUnavailable(t *testing.T) {
	for _, tc := range failuretest.Cases(t) {
		status, retryAfter, body := answer(t, tc.Err)
		if tc.Unavailable {
			const want = `{"status":503,"errors":[{"message":"The service is temporarily unavailable. Please retry.","code":"unavailable"}]}`
			if status != 503 || retryAfter != "1" || body != want {
				t.Errorf("%s: %d Retry-After %q %s", tc.Name, status, retryAfter, body)
			}
		} else if status != 500 || body != `{"status":500}` {
			t.Errorf("%s: %d %s, want 500", tc.Name, status, body)
		}
	}
}

// Every domain refusal is answered by the one mapper, with allauth's status
// and errors list, wrapped or not.
func TestErrorHandlerRefusals(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		retryAfter string
		body       string
	}{
		{"field error", identity.NewError("email", "email_taken"), 400, "",
			`{"status":400,"errors":[{"message":"A user is already registered with this email address.","code":"email_taken","param":"email"}]}`},
		{"field errors", identity.Errors{identity.NewError("email", "required"), identity.NewError("", "invalid_login")}, 400, "",
			`{"status":400,"errors":[{"message":"This field is required.","code":"required","param":"email"},{"message":"Invalid login.","code":"invalid_login"}]}`},
		{"conflict", identity.ErrConflict, 409, "", `{"status":409}`},
		{"signup closed", fmt.Errorf("signup: %w", identity.ErrSignupClosed), 403, "", `{"status":403}`},
		{"not sent", identity.ErrNotSent, 403, "", `{"status":403}`},
		{"rate limited", identity.ErrRateLimited, 429, "", `{"status":429}`},
		// Outside the headless chain (base.Answers renders these with the flows).
		{"not authenticated", identity.ErrNotAuthenticated, 401, "", `{"status":401}`},
		{"mfa code", mfa.NewError("code", mfa.CodeIncorrectCode), 400, "",
			`{"status":400,"errors":[{"message":"Incorrect code.","code":"incorrect_code","param":"code"}]}`},
		{"mfa already active", mfa.ErrAlreadyActive, 409, "", `{"status":409}`},
		{"token refused", fmt.Errorf("verify: %w", social.ErrClientIDMismatch), 400, "",
			`{"status":400,"errors":[{"message":"` + "`client_id` mismatch." + `","code":"client_id_mismatch","param":"token"}]}`},
		{"provider failed", &social.ProviderError{Op: "JWKS fetch", Timeout: true}, 400, "",
			`{"status":400,"errors":[{"message":"The provider could not verify the token.","code":"invalid_token","param":"token"}]}`},
		{"unknown tenant", tenants.ErrNotFound, 404, "", `{"status":404,"errors":[{"message":"Unknown tenant.","code":"unknown_tenant"}]}`},
		{"malformed host", tenants.ErrMalformedHost, 400, "", `{"status":400,"errors":[{"message":"Malformed Host header.","code":"invalid_host"}]}`},
		{"unknown host", fmt.Errorf("%w: %q", tenants.ErrUnknownHost, "x.example"), 400, "",
			`{"status":400,"errors":[{"message":"This host is not served here.","code":"invalid_host"}]}`},
		{"pending budget", quota.ErrExhausted, 429, "60", `{"status":429}`},
	} {
		status, retryAfter, body := answer(t, tc.err)
		if status != tc.status || retryAfter != tc.retryAfter || body != tc.body {
			t.Errorf("%s: %d Retry-After %q %s\nwant %d Retry-After %q %s", tc.name, status, retryAfter, body, tc.status, tc.retryAfter, tc.body)
		}
	}
}
