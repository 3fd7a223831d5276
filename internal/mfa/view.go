package mfa

import "time"

// epoch is a time as Python's datetime.timestamp(): seconds as a float.
func epoch(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// Data is the authenticator as allauth's headless API shows it
// (headless/mfa/response.py _authenticator_data): type, created_at and
// last_used_at (epoch seconds, null if never used); recovery codes add
// total_code_count and unused_code_count, and unused_codes when sensitive
// and the codes are available (see ViewRecoveryCodes); WebAuthn adds id,
// name and is_passwordless (only when known). TOTP has no id.
func (a *Authenticator) Data(sensitive bool) map[string]any {
	m := map[string]any{
		"type":         a.Type,
		"created_at":   epoch(a.CreatedAt),
		"last_used_at": nil,
	}
	if a.LastUsedAt != nil {
		m["last_used_at"] = epoch(*a.LastUsedAt)
	}
	switch a.Type {
	case TypeRecoveryCodes:
		m["total_code_count"] = a.TotalCodeCount
		m["unused_code_count"] = a.UnusedCodeCount
		if sensitive && a.UnusedCodes != nil {
			m["unused_codes"] = a.UnusedCodes
		}
	case TypeWebAuthn:
		m["id"] = a.ID
		m["name"] = a.Name
		if a.Passwordless != nil {
			m["is_passwordless"] = *a.Passwordless
		}
	}
	return m
}
