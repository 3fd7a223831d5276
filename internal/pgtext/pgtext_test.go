package pgtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"plain", 0, "plain"},
		{"plain", 3, "pla"},
		{strings.Repeat("a", 511) + "é", 512, strings.Repeat("a", 511)},
		{"a\xffb", 0, "a\uFFFDb"},
		{"a\x00b", 0, "ab"},
		{"\x00\x00", 0, ""},
		{"é\xff", 2, "é"},
		{"€€", 4, "€"},
		{"€", 2, ""},
		{"", 5, ""},
	} {
		got := Clean(tc.in, tc.max)
		if got != tc.want {
			t.Errorf("Clean(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestCleanJSON(t *testing.T) {
	in := map[string]any{"ok": "x", "k\x00": []any{"a\xff", 1.5, map[string]any{"n": "\x00"}}, "list": []string{"b\x00"}}
	out := CleanMap(in)
	if _, ok := out["k"]; !ok {
		t.Fatalf("key not cleaned: %v", out)
	}
	if in["k\x00"].([]any)[0] != "a\xff" {
		t.Fatal("input modified")
	}
	inner := out["k"].([]any)
	if inner[0] != "a\uFFFD" || inner[1] != 1.5 || inner[2].(map[string]any)["n"] != "" || out["list"].([]string)[0] != "b" {
		t.Fatalf("cleaned: %#v", out)
	}
	if CleanMap(nil) != nil {
		t.Fatal("nil map")
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "é", "\xff", "a\x00", strings.Repeat("é", 300)} {
		f.Add(s, 512)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max > 1<<20 {
			max = 1 << 20
		}
		got := Clean(s, max)
		if !utf8.ValidString(got) || strings.IndexByte(got, 0) >= 0 || max > 0 && len(got) > max {
			t.Fatalf("Clean(%q, %d) = %q", s, max, got)
		}
		if max <= 0 && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && got != s {
			t.Fatalf("valid string changed: %q → %q", s, got)
		}
	})
}

func TestMarshal(t *testing.T) {
	type detail struct {
		Name string `json:"name"`
		N    int64  `json:"n"`
	}
	b, err := Marshal(map[string]any{"d": detail{Name: "a\x00b\xff", N: 1 << 60}, "k\x00": "v", "plain": `\u0000`})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"d":{"n":1152921504606846976,"name":"ab` + "\uFFFD" + `"},"k":"v","plain":"\\u0000"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	if !Valid("é") || Valid("\x00") || Valid("\xff") || ValidJSON(map[string]any{"a": []any{"\x00"}}) || !ValidJSON(map[string]any{"a": 1}) {
		t.Fatal("Valid")
	}
}
