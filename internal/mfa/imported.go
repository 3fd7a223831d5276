package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// Imported authenticators (issue #22, internal/portable). Their data comes
// in allauth 65's JSON (or Hallpass's export of its own payloads), is
// converted to this package's payloads, sealed as every authenticator is,
// and copied in set-based in the writer's transaction.

// ImportAuthenticator is one second factor of an imported user.
type ImportAuthenticator struct {
	// Index is the user's position in the batch.
	Index int
	// UserID is the user's id: in StageImport the id the tenant holds them
	// under (0 for a new user); in WriteImport their written id.
	UserID     int64
	Type       string
	Data       []byte
	CreatedAt  *time.Time
	LastUsedAt *time.Time

	payload      any
	credentialID []byte
}

// importedRecovery is what allauth and Hallpass exports carry for a
// recovery-codes authenticator (see internal/portable).
type importedRecovery struct {
	Seed          *string  `json:"seed"`
	UsedMask      *big.Int `json:"used_mask"`
	MigratedCodes []string `json:"migrated_codes"`
	ViewedAt      any      `json:"viewed_at"`
	recoveryData
}

// importedWebAuthn is allauth's {"name", "credential": registration
// response} or Hallpass's {"name", "credential": Credential, "passwordless"}.
type importedWebAuthn struct {
	Name         string          `json:"name"`
	Credential   json.RawMessage `json:"credential"`
	Passwordless *bool           `json:"passwordless"`
}

// PrepareImport checks an imported authenticator's data and converts it
// to the payload its row will hold. Recovery codes derived from allauth's
// seed follow settings' MFA_RECOVERY_CODE_COUNT and _DIGITS (allauth's).
// It needs no database, so an importer checks every row with it before
// writing (a dry run too).
func (a *ImportAuthenticator) PrepareImport(settings *tenants.Settings) error {
	switch a.Type {
	case TypeTOTP:
		var d totpData
		if err := json.Unmarshal(a.Data, &d); err != nil {
			return fmt.Errorf("totp data: %w", err)
		}
		secret, key, err := canonicalSecret(d.Secret)
		if err != nil || len(key) == 0 {
			return errors.New("totp secret is not base32 (was it encrypted by the project's MFA adapter?)")
		}
		d.Secret = secret
		a.payload = &d
	case TypeRecoveryCodes:
		d, err := importRecovery(a.Data, settings)
		if err != nil {
			return err
		}
		a.payload = d
	case TypeWebAuthn:
		d, err := importWebAuthn(a.Data)
		if err != nil {
			return err
		}
		a.payload, a.credentialID = d, d.Credential.ID
	default:
		return fmt.Errorf("unknown authenticator type %q", a.Type)
	}
	return nil
}

// importRecovery converts allauth's seed and used mask, allauth's migrated
// codes, or Hallpass's own payload.
func importRecovery(data []byte, settings *tenants.Settings) (*recoveryData, error) {
	var in importedRecovery
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("recovery codes data: %w", err)
	}
	var codes []string
	var used []bool
	switch {
	case in.MigratedCodes != nil:
		codes = in.MigratedCodes // allauth drops a migrated code once used
		used = make([]bool, len(codes))
	case in.Seed != nil:
		if *in.Seed == "" || strings.IndexFunc(*in.Seed, func(r rune) bool { return r > 0x7e || r < 0x20 }) >= 0 {
			return nil, errors.New("recovery codes seed is not ASCII (was it encrypted by the project's MFA adapter?)")
		}
		codes = AllauthRecoveryCodes(*in.Seed, settings.MFARecoveryCodeCount, settings.MFARecoveryCodeDigits)
		used = make([]bool, len(codes))
		if in.UsedMask != nil {
			if in.UsedMask.Sign() < 0 {
				return nil, errors.New("recovery codes used_mask is negative")
			}
			for i := range used {
				used[i] = in.UsedMask.Bit(i) == 1
			}
		}
	case len(in.Key) > 0:
		d := in.recoveryData
		if len(d.Hashes) == 0 || len(d.Used) != len(d.Hashes) || (d.Codes != nil && len(d.Codes) != len(d.Hashes)) {
			return nil, errors.New("recovery codes data: hashes, used and codes do not match")
		}
		return &d, nil
	default:
		return nil, errors.New("recovery codes data has no seed, migrated_codes or key")
	}
	d := &recoveryData{Key: make([]byte, 32), Used: used, Codes: slices.Clone(codes), Viewed: in.ViewedAt != nil}
	if _, err := rand.Read(d.Key); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for _, c := range codes {
		d.Hashes = append(d.Hashes, hashRecoveryCode(d.Key, c))
	}
	if settings.MFARecoveryCodesShowOnce && d.Viewed {
		d.Codes = nil
	}
	return d, nil
}

// AllauthRecoveryCodes derives allauth's recovery codes from a seed: one
// HMAC-SHA1 keyed by the seed's ASCII, fed "  0,", "  1,", … in turn; code
// i is the first digits/2 bytes of the digest after its own piece, as a
// big-endian number modulo 10^digits, zero-padded to digits.
func AllauthRecoveryCodes(seed string, count, digits int) []string {
	if count <= 0 {
		count = 10
	}
	if digits <= 0 {
		digits = 8
	}
	m := hmac.New(sha1.New, []byte(seed))
	n := min(digits/2, sha1.Size)
	mod := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)
	out := make([]string, count)
	for i := range out {
		m.Write([]byte(fmt.Sprintf("%3d,", i)))
		v := new(big.Int).SetBytes(m.Sum(nil)[:n])
		s := v.Mod(v, mod).String()
		out[i] = strings.Repeat("0", digits-len(s)) + s
	}
	return out
}

// importWebAuthn reads allauth's registration response (parsed and its
// public key taken, as allauth's fido2 does, without verifying the
// ceremony again) or Hallpass's credential.
func importWebAuthn(data []byte) (*webauthnData, error) {
	var in importedWebAuthn
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("webauthn data: %w", err)
	}
	if len(in.Credential) == 0 {
		return nil, errors.New("webauthn data has no credential")
	}
	name, err := checkName(in.Name)
	if err != nil || name == "" {
		name = DefaultWebAuthnName(1)
	}
	var probe struct {
		Response  json.RawMessage `json:"response"`
		PublicKey []byte          `json:"publicKey"`
	}
	if err := json.Unmarshal(in.Credential, &probe); err != nil {
		return nil, fmt.Errorf("webauthn credential: %w", err)
	}
	if len(probe.Response) == 0 {
		var cred webauthn.Credential
		if err := json.Unmarshal(in.Credential, &cred); err != nil || len(cred.ID) == 0 || len(cred.PublicKey) == 0 {
			return nil, errors.New("webauthn credential is neither a registration response nor a credential")
		}
		return &webauthnData{Name: name, Credential: cred, Passwordless: in.Passwordless}, nil
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(in.Credential)
	if err != nil {
		return nil, fmt.Errorf("webauthn registration response: %w", err)
	}
	if len(parsed.Response.AttestationObject.AuthData.AttData.CredentialID) == 0 {
		return nil, errors.New("webauthn registration response has no attested credential")
	}
	hash := sha256.Sum256(parsed.Raw.AttestationResponse.ClientDataJSON)
	cred, err := webauthn.NewCredential(hash[:], parsed)
	if err != nil {
		return nil, fmt.Errorf("webauthn credential: %w", err)
	}
	passwordless := in.Passwordless
	if rk := parsed.ClientExtensionResults.CredProps; passwordless == nil && rk != nil && rk.RK != nil {
		passwordless = rk.RK
	}
	return &webauthnData{Name: name, Credential: *cred, Passwordless: passwordless}, nil
}

// StageImport returns the indexes of prepared authenticators whose
// WebAuthn credential is another user's (of the tenant, or of an earlier
// user of the batch), with why; one statement with the credential ids as
// an array.
func StageImport(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, auths []ImportAuthenticator) (map[int]string, error) {
	out := map[int]string{}
	seen := map[string]bool{}
	var idx []int32
	var creds [][]byte
	var owners []*int64
	for i := range auths {
		a := &auths[i]
		if a.credentialID == nil {
			continue
		}
		if seen[string(a.credentialID)] {
			if _, ok := out[a.Index]; !ok {
				out[a.Index] = "a WebAuthn credential also belongs to an earlier user of the import"
			}
		}
		seen[string(a.credentialID)] = true
		var owner *int64
		if a.UserID != 0 {
			owner = &a.UserID
		}
		idx, creds, owners = append(idx, int32(a.Index)), append(creds, a.credentialID), append(owners, owner)
	}
	if len(idx) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT k.idx FROM unnest($2::integer[], $3::bytea[], $4::bigint[]) AS k (idx, credential_id, user_id)
		JOIN authenticators a ON a.tenant_id = $1 AND a.credential_id = k.credential_id
		WHERE a.user_id IS DISTINCT FROM k.user_id`, tenantID, idx, creds, owners)
	if err != nil {
		return nil, fmt.Errorf("mfa: find conflicts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, fmt.Errorf("mfa: find conflicts: %w", err)
		}
		if _, ok := out[i]; !ok {
			out[i] = "a WebAuthn credential belongs to another user of the tenant"
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mfa: find conflicts: %w", err)
	}
	return out, nil
}

// WriteImport replaces the authenticators of the written users (users:
// every written user's id; auths: theirs, prepared and with UserID set)
// with auths, sealed under sealer as Store seals them. It returns how many
// it wrote.
func WriteImport(ctx context.Context, tx pgx.Tx, sealer *seal.Sealer, tenantID uuid.UUID, users []int64, auths []ImportAuthenticator) (int, error) {
	if len(users) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM authenticators WHERE tenant_id = $1 AND user_id = ANY($2)`, tenantID, users); err != nil {
			return 0, fmt.Errorf("mfa: drop old authenticators: %w", err)
		}
	}
	rows := make([][]any, 0, len(auths))
	now := time.Now()
	for i := range auths {
		a := &auths[i]
		if a.payload == nil {
			return 0, fmt.Errorf("mfa: authenticator of user %d not prepared", a.UserID)
		}
		raw, err := json.Marshal(a.payload)
		if err != nil {
			return 0, fmt.Errorf("mfa: encode: %w", err)
		}
		sealed, err := sealer.Seal(raw, sealContext(tenantID, a.UserID, a.Type))
		if err != nil {
			return 0, err
		}
		created := now
		if a.CreatedAt != nil {
			created = *a.CreatedAt
		}
		rows = append(rows, []any{tenantID, a.UserID, a.Type, sealed, a.credentialID, created, a.LastUsedAt})
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"authenticators"},
		[]string{"tenant_id", "user_id", "type", "data", "credential_id", "created_at", "last_used_at"}, pgx.CopyFromRows(rows))
	if err != nil {
		return 0, fmt.Errorf("mfa: copy authenticators: %w", err)
	}
	return int(n), nil
}
