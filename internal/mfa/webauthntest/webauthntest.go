// Package webauthntest is a software WebAuthn authenticator and client for
// tests: it answers the creation and request options the server sends with
// the PublicKeyCredential.toJSON() a browser would post, using ES256 keys
// and "none" attestation. Knobs let tests break one thing at a time: the
// origin, the challenge, the signature counter, the user handle.
//
// It is not a security device: keys live in memory, unprotected.
package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator flags (WebAuthn §6.1 authenticator data).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// coseES256 is the COSE algorithm id of ES256.
const coseES256 = -7

// Credential is one key pair the authenticator holds.
type Credential struct {
	// ID is the credential id.
	ID []byte
	// Key is the private key.
	Key *ecdsa.PrivateKey
	// RPID is the relying party the credential is scoped to.
	RPID string
	// UserHandle is the user.id of the creation options.
	UserHandle []byte
	// Discoverable is whether it is a resident key (a passkey).
	Discoverable bool
	// Counter is the signature counter, incremented before each assertion
	// unless the authenticator has ZeroCounter.
	Counter uint32
}

// Authenticator is a software authenticator together with the browser
// around it. Its exported fields may be changed between calls.
type Authenticator struct {
	// Origin is the page origin written into clientDataJSON.
	Origin string
	// RPID is the relying party id the authenticator hashes into its data.
	RPID string
	// AAGUID identifies the authenticator model.
	AAGUID [16]byte
	// Attachment is reported as authenticatorAttachment ("platform" or
	// "cross-platform").
	Attachment string
	// ZeroCounter makes it never count signatures (as many passkey
	// providers): the counter stays 0.
	ZeroCounter bool

	mu    sync.Mutex
	creds []*Credential
}

// New returns an authenticator for pages at origin whose relying party id
// is rpID.
func New(origin, rpID string) *Authenticator {
	a := &Authenticator{Origin: origin, RPID: rpID, Attachment: "platform"}
	_, _ = rand.Read(a.AAGUID[:])
	return a
}

// Credentials returns the credentials created so far.
func (a *Authenticator) Credentials() []*Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*Credential(nil), a.creds...)
}

// b64 is base64url without padding, WebAuthn's JSON encoding of bytes.
type b64 []byte

func (b b64) MarshalJSON() ([]byte, error) {
	return json.Marshal(base64.RawURLEncoding.EncodeToString(b))
}

func (b *b64) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	v, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		// Some servers pad or use standard base64.
		if v, err = base64.URLEncoding.DecodeString(s); err != nil {
			return err
		}
	}
	*b = v
	return nil
}

type descriptor struct {
	Type string `json:"type"`
	ID   b64    `json:"id"`
}

type creationOptions struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID b64 `json:"id"`
	} `json:"user"`
	Challenge        b64 `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials     []descriptor `json:"excludeCredentials"`
	AuthenticatorSelection struct {
		ResidentKey      string `json:"residentKey"`
		UserVerification string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Extensions map[string]any `json:"extensions"`
}

type requestOptions struct {
	Challenge        b64          `json:"challenge"`
	RPID             string       `json:"rpId"`
	AllowCredentials []descriptor `json:"allowCredentials"`
	UserVerification string       `json:"userVerification"`
}

// unwrap accepts both the bare publicKey options and {"publicKey": {...}}.
func unwrap(options []byte) []byte {
	var env struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if json.Unmarshal(options, &env) == nil && len(env.PublicKey) > 0 {
		return env.PublicKey
	}
	return options
}

func (a *Authenticator) clientData(typ string, challenge []byte, origin string) []byte {
	cd, _ := json.Marshal(map[string]any{
		"type":        typ,
		"challenge":   base64.RawURLEncoding.EncodeToString(challenge),
		"origin":      origin,
		"crossOrigin": false,
	})
	return cd
}

func (a *Authenticator) authData(rpID string, flags byte, counter uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, attested...)
}

// coseKey encodes an ES256 public key as a COSE_Key.
func coseKey(pub *ecdsa.PublicKey) ([]byte, error) {
	ek, err := pub.ECDH()
	if err != nil {
		return nil, err
	}
	raw := ek.Bytes() // 0x04 || X || Y
	return webauthncbor.Marshal(map[int]any{1: 2, 3: coseES256, -1: 1, -2: raw[1:33], -3: raw[33:65]})
}

// Create answers navigator.credentials.create() for the creation options
// (the publicKey object, bare or wrapped) with a new ES256 credential:
// userVerified sets the UV flag, discoverable makes it a resident key (and
// is what credProps.rk reports). It refuses options that require a resident
// key or user verification it is not given, that exclude one of its
// credentials, or that do not offer ES256 — as a browser would.
func (a *Authenticator) Create(options []byte, userVerified, discoverable bool) ([]byte, error) {
	var o creationOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, fmt.Errorf("webauthntest: creation options: %w", err)
	}
	rpID := a.RPID
	if o.RP.ID != "" && o.RP.ID != rpID {
		return nil, fmt.Errorf("webauthntest: options are for RP %q, authenticator serves %q", o.RP.ID, rpID)
	}
	if len(o.Challenge) == 0 || len(o.User.ID) == 0 {
		return nil, errors.New("webauthntest: options lack challenge or user id")
	}
	es256 := false
	for _, p := range o.PubKeyCredParams {
		es256 = es256 || (p.Type == "public-key" && p.Alg == coseES256)
	}
	if !es256 {
		return nil, errors.New("webauthntest: NotSupportedError: ES256 not offered")
	}
	if o.AuthenticatorSelection.ResidentKey == "required" && !discoverable {
		return nil, errors.New("webauthntest: NotAllowedError: resident key required")
	}
	if o.AuthenticatorSelection.UserVerification == "required" && !userVerified {
		return nil, errors.New("webauthntest: NotAllowedError: user verification required")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ex := range o.ExcludeCredentials {
		for _, c := range a.creds {
			if c.RPID == rpID && bytes.Equal(c.ID, ex.ID) {
				return nil, errors.New("webauthntest: InvalidStateError: credential excluded")
			}
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cred := &Credential{ID: make([]byte, 32), Key: key, RPID: rpID, UserHandle: append([]byte(nil), o.User.ID...),
		Discoverable: discoverable}
	_, _ = rand.Read(cred.ID)
	cose, err := coseKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	attested := append([]byte{}, a.AAGUID[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(cred.ID)))
	attested = append(attested, cred.ID...)
	attested = append(attested, cose...)
	flags := byte(flagUP | flagAT)
	if userVerified {
		flags |= flagUV
	}
	authData := a.authData(rpID, flags, cred.Counter, attested)
	attObj, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	ext := map[string]any{}
	if v, ok := o.Extensions["credProps"].(bool); ok && v {
		ext["credProps"] = map[string]any{"rk": discoverable}
	}
	transports := []string{"internal", "hybrid"}
	if a.Attachment == "cross-platform" {
		transports = []string{"usb"}
	}
	a.creds = append(a.creds, cred)
	return json.Marshal(map[string]any{
		"id":    base64.RawURLEncoding.EncodeToString(cred.ID),
		"rawId": b64(cred.ID),
		"type":  "public-key",
		"response": map[string]any{
			"clientDataJSON":     b64(a.clientData("webauthn.create", o.Challenge, a.Origin)),
			"attestationObject":  b64(attObj),
			"authenticatorData":  b64(authData),
			"publicKey":          b64(spki),
			"publicKeyAlgorithm": coseES256,
			"transports":         transports,
		},
		"clientExtensionResults":  ext,
		"authenticatorAttachment": a.Attachment,
	})
}

// GetOptions are the knobs of an assertion.
type GetOptions struct {
	// UserVerified sets the UV flag; without it, options requiring user
	// verification are refused.
	UserVerified bool
	// Origin replaces the authenticator's Origin in clientDataJSON.
	Origin string
	// Challenge replaces the options' challenge (to replay an old one).
	Challenge []byte
	// Counter, when set, is the signature counter to report (and keep)
	// instead of the next one.
	Counter *uint32
	// CredentialID picks the credential; else the first allowed one, or the
	// first discoverable one for an empty allowCredentials.
	CredentialID []byte
	// UserHandle replaces the user handle reported for a discoverable
	// credential.
	UserHandle []byte
}

// Get answers navigator.credentials.get() for the request options (the
// publicKey object, bare or wrapped) with an assertion signed by one of its
// credentials: the signature covers authenticatorData and the hash of
// clientDataJSON, the counter is incremented first (see ZeroCounter and
// GetOptions.Counter), and discoverable credentials report their user handle.
func (a *Authenticator) Get(options []byte, opt GetOptions) ([]byte, error) {
	var o requestOptions
	if err := json.Unmarshal(unwrap(options), &o); err != nil {
		return nil, fmt.Errorf("webauthntest: request options: %w", err)
	}
	rpID := a.RPID
	if o.RPID != "" && o.RPID != rpID {
		return nil, fmt.Errorf("webauthntest: options are for RP %q, authenticator serves %q", o.RPID, rpID)
	}
	if o.UserVerification == "required" && !opt.UserVerified {
		return nil, errors.New("webauthntest: NotAllowedError: user verification required")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var cred *Credential
	for _, c := range a.creds {
		if c.RPID != rpID {
			continue
		}
		switch {
		case opt.CredentialID != nil:
			if bytes.Equal(c.ID, opt.CredentialID) {
				cred = c
			}
		case len(o.AllowCredentials) > 0:
			for _, d := range o.AllowCredentials {
				if bytes.Equal(c.ID, d.ID) {
					cred = c
				}
			}
		default:
			if c.Discoverable {
				cred = c
			}
		}
		if cred != nil {
			break
		}
	}
	if cred == nil {
		return nil, errors.New("webauthntest: NotAllowedError: no matching credential")
	}
	switch {
	case opt.Counter != nil:
		cred.Counter = *opt.Counter
	case a.ZeroCounter:
		cred.Counter = 0
	default:
		cred.Counter++
	}
	flags := byte(flagUP)
	if opt.UserVerified {
		flags |= flagUV
	}
	authData := a.authData(rpID, flags, cred.Counter, nil)
	challenge := o.Challenge
	if opt.Challenge != nil {
		challenge = opt.Challenge
	}
	origin := a.Origin
	if opt.Origin != "" {
		origin = opt.Origin
	}
	clientData := a.clientData("webauthn.get", challenge, origin)
	cdHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, digest[:])
	if err != nil {
		return nil, err
	}
	resp := map[string]any{
		"clientDataJSON":    b64(clientData),
		"authenticatorData": b64(authData),
		"signature":         b64(sig),
	}
	switch {
	case opt.UserHandle != nil:
		resp["userHandle"] = b64(opt.UserHandle)
	case cred.Discoverable:
		resp["userHandle"] = b64(cred.UserHandle)
	}
	return json.Marshal(map[string]any{
		"id":                      base64.RawURLEncoding.EncodeToString(cred.ID),
		"rawId":                   b64(cred.ID),
		"type":                    "public-key",
		"response":                resp,
		"clientExtensionResults":  map[string]any{},
		"authenticatorAttachment": a.Attachment,
	})
}
