package account_test

import (
	"bytes"
	"compress/gzip"
	"runtime"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// TestCompressedBodiesAreNotInflated: a body sent with Content-Encoding is
// bytes, as Django reads it, never inflated. Fiber's c.Body() would inflate
// a 50 KB gzip upload of zeros, under the 64 KB body limit, into 50 MB
// (twice: the size check and the parser each call it) before any limit
// applies; a 1 MB one into a gigabyte.
func TestCompressedBodiesAreNotInflated(t *testing.T) {
	env := apitest.New(t, emailOnly)
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 50 {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	if bomb.Len() > 64<<10 {
		t.Fatalf("the bomb is %d bytes: over the body limit, it would test nothing", bomb.Len())
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, path := range []string{"auth/login", "auth/signup", "auth/password/request"} {
		r := env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/"+path, bomb.String(), "Content-Encoding", "gzip", "Content-Type", "application/json")
		if r.Code != 400 {
			t.Errorf("%s with a gzip body: %d %s", path, r.Code, r.Body)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("three compressed requests allocated %d MB: the body was inflated", grew>>20)
	}

	// A gzip-encoded valid JSON body is not valid JSON as sent: 400, as
	// Django answers.
	var small bytes.Buffer
	zw = gzip.NewWriter(&small)
	_, _ = zw.Write([]byte(`{"email":"a@example.com","password":"correct horse battery"}`))
	_ = zw.Close()
	r := env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/auth/login", small.String(), "Content-Encoding", "gzip", "Content-Type", "application/json")
	if r.Code != 400 || r.ErrorCode() != "invalid" {
		t.Errorf("gzip JSON body: %d %s", r.Code, r.Body)
	}
}
