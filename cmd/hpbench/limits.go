package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/passwords"
)

// Argon2Limit is the login ceiling set by password hashing alone.
type Argon2Limit struct {
	Params    string  `json:"params"`
	VerifyUS  float64 `json:"verify_median_us"` // one Verify on one goroutine, server idle
	Samples   int     `json:"samples"`
	Cores     int     `json:"cores"`
	Limit     float64 `json:"limit_per_s"`       // cores ÷ verify time: the ratio's denominator
	Parallel  float64 `json:"parallel_per_s"`    // measured with one goroutine per core
	ParallelN int     `json:"parallel_verifies"` // how many verifies that measure made
	Elapsed   float64 `json:"measure_seconds"`
}

// measureArgon2 times passwords.DefaultHasher().Verify — what a
// login with a correct password costs in key derivation — on one
// goroutine, then with one goroutine per core.
func measureArgon2(ctx context.Context, cores int, budget time.Duration) (Argon2Limit, error) {
	start := time.Now()
	h := passwords.DefaultHasher()
	const pw = "correct horse battery staple"
	hash, err := h.Hash(pw)
	if err != nil {
		return Argon2Limit{}, err
	}
	verify := func() error {
		ok, _, err := h.Verify(hash, pw)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("argon2: verify of the right password failed")
		}
		return nil
	}
	_ = verify() // warm: first use allocates the 19 MiB block
	var times []time.Duration
	deadline := time.Now().Add(budget / 2)
	for len(times) < 5 || (len(times) < 40 && time.Now().Before(deadline)) {
		if ctx.Err() != nil {
			return Argon2Limit{}, ctx.Err()
		}
		t0 := time.Now()
		if err := verify(); err != nil {
			return Argon2Limit{}, err
		}
		times = append(times, time.Since(t0))
	}
	med := median(times)
	out := Argon2Limit{
		Params:   fmt.Sprintf("argon2id m=%d KiB t=%d p=%d", h.Memory, h.Time, h.Threads),
		VerifyUS: float64(med) / 1e3,
		Samples:  len(times),
		Cores:    cores,
		Limit:    float64(cores) / med.Seconds(),
	}
	// Parallel: every core deriving at once (memory bandwidth shows here).
	per := max(3, int(float64(budget/2)/float64(med)/float64(cores)))
	var wg sync.WaitGroup
	errs := make(chan error, cores)
	t0 := time.Now()
	for range cores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				if err := verify(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return Argon2Limit{}, err
	}
	out.ParallelN = per * cores
	out.Parallel = float64(out.ParallelN) / time.Since(t0).Seconds()
	out.Elapsed = time.Since(start).Seconds()
	return out, nil
}

// SigningLimit is the refresh ceiling set by JWT cryptography alone.
type SigningLimit struct {
	Alg      string  `json:"alg"`
	SignUS   float64 `json:"sign_median_us"`
	VerifyUS float64 `json:"verify_median_us"`
	// PerRefreshUS is what one rotating tokens/refresh costs in JWT crypto:
	// verify the refresh token, sign an access and a refresh token.
	PerRefreshUS float64 `json:"per_refresh_us"`
	Cores        int     `json:"cores"`
	// Limit = cores ÷ PerRefreshUS: the ratio's denominator.
	Limit float64 `json:"limit_per_s"`
	// SignOnlyLimit = cores ÷ SignUS, for reference.
	SignOnlyLimit float64 `json:"sign_only_limit_per_s"`
}

// refreshClaims mirror the server's (api/tokens: allauth's six plus iss).
type refreshClaims struct {
	jwt.RegisteredClaims
	TokenUse string `json:"token_use"`
	SID      string `json:"sid"`
}

func benchClaims(use string) refreshClaims {
	now := time.Now().Truncate(time.Second)
	return refreshClaims{RegisteredClaims: jwt.RegisteredClaims{
		Issuer:    "http://127.0.0.1:18000/t/" + jwtSlug("EdDSA"),
		Subject:   strconv.Itoa(123456),
		ID:        uuid.NewString(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
	}, TokenUse: use,
		// A sealed 32-byte session id is about this long.
		SID: "v1.k0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
}

// keyPair makes a fresh key for alg as the server generates them
// (tenants: RS256 2048 bits, ES256 P-256, EdDSA Ed25519, HS256 32 bytes).
func keyPair(alg string) (method jwt.SigningMethod, sign, verify any, err error) {
	switch alg {
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		return jwt.SigningMethodEdDSA, priv, pub, err
	case "ES256":
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, nil, err
		}
		return jwt.SigningMethodES256, k, &k.PublicKey, nil
	case "RS256":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, nil, nil, err
		}
		return jwt.SigningMethodRS256, k, &k.PublicKey, nil
	case "HS256":
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return jwt.SigningMethodHS256, b, b, nil
	}
	return nil, nil, nil, fmt.Errorf("unsupported algorithm %q", alg)
}

// measureSigning times golang-jwt signing and verifying with alg, as the
// server does it, for about budget.
func measureSigning(ctx context.Context, alg string, cores int, budget time.Duration) (SigningLimit, error) {
	method, sk, vk, err := keyPair(alg)
	if err != nil {
		return SigningLimit{}, err
	}
	claims := benchClaims("refresh")
	sign := func() (string, error) {
		tok := jwt.NewWithClaims(method, claims)
		tok.Header["kid"] = "bench-kid-0123456789abcdef0123456789abcdef012"
		return tok.SignedString(sk)
	}
	token, err := sign()
	if err != nil {
		return SigningLimit{}, err
	}
	verify := func() error {
		var c refreshClaims
		_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return vk, nil },
			jwt.WithValidMethods([]string{alg}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
		return err
	}
	timeIt := func(f func() error) (time.Duration, error) {
		// Batches of calls, the median batch mean: robust to a GC or a
		// scheduler hiccup in one batch.
		var means []time.Duration
		deadline := time.Now().Add(budget / 2)
		batch := 1
		for len(means) < 7 || time.Now().Before(deadline) {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			t0 := time.Now()
			for range batch {
				if err := f(); err != nil {
					return 0, err
				}
			}
			el := time.Since(t0)
			means = append(means, el/time.Duration(batch))
			if el < 5*time.Millisecond && batch < 1<<14 {
				batch *= 2
			}
			if len(means) > 200 {
				break
			}
		}
		return median(means), nil
	}
	runtime.GC()
	st, err := timeIt(func() error { _, err := sign(); return err })
	if err != nil {
		return SigningLimit{}, err
	}
	vt, err := timeIt(verify)
	if err != nil {
		return SigningLimit{}, err
	}
	per := 2*st + vt
	return SigningLimit{
		Alg: alg, SignUS: float64(st) / 1e3, VerifyUS: float64(vt) / 1e3,
		PerRefreshUS: float64(per) / 1e3, Cores: cores,
		Limit:         float64(cores) / per.Seconds(),
		SignOnlyLimit: float64(cores) / st.Seconds(),
	}, nil
}
