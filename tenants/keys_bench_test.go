package tenants_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// benchTenants makes one tenant per algorithm with its key generated, so the
// loops measure the hot path: the cached key, then golang-jwt.
func benchTenants(b *testing.B) (*tenants.Keys, map[string]*tenants.Tenant) {
	b.Helper()
	pool, sealer := testenv.Pool(b), testenv.Sealer(b)
	store := tenants.NewStore(pool, sealer, nil)
	keys := tenants.NewKeys(pool, sealer, nil)
	out := map[string]*tenants.Tenant{}
	for _, alg := range allAlgorithms {
		tn := jwtTenant(b, store, "bench-"+alg, map[string]any{"HEADLESS_JWT_ALGORITHM": alg})
		signing(b, keys, tn)
		out[alg] = tn
	}
	return keys, out
}

// BenchmarkSign: Keys.Signing (cache hit) and signing a typical access token.
func BenchmarkSign(b *testing.B) {
	keys, tns := benchTenants(b)
	ctx := context.Background()
	claims := accessClaims()
	for _, alg := range allAlgorithms {
		tn := tns[alg]
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				key, err := keys.Signing(ctx, tn)
				if err != nil {
					b.Fatal(err)
				}
				tok := jwt.NewWithClaims(key.Method, claims)
				tok.Header["kid"] = key.Kid
				if _, err := tok.SignedString(key.SignKey); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify: parsing and verifying a typical access token with the key
// Keys.ByKid finds for its kid (cache hit), as the API checks bearer tokens.
func BenchmarkVerify(b *testing.B) {
	keys, tns := benchTenants(b)
	ctx := context.Background()
	for _, alg := range allAlgorithms {
		tn := tns[alg]
		token := sign(b, signing(b, keys, tn))
		methods := []string{alg}
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
					kid, _ := tok.Header["kid"].(string)
					k, err := keys.ByKid(ctx, tn, kid)
					if err != nil {
						return nil, err
					}
					return k.VerifyKey, nil
				}, jwt.WithValidMethods(methods), jwt.WithExpirationRequired())
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
