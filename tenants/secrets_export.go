package tenants

import (
	"strconv"
	"strings"
)

// MapSecrets returns a copy of an overrides document in which every secret
// (the values RedactSecrets hides) is replaced by fn's result, or removed
// when fn returns "". The path names the value, e.g.
// "SOCIALACCOUNT_PROVIDERS.google.APPS.0.secret"; it is the same for the
// document fn produced, so a tenant export can seal secrets by path and a
// restore open them by path.
func MapSecrets(doc map[string]any, fn func(path, value string) (string, error)) (map[string]any, error) {
	out, _ := deepCopy(doc).(map[string]any)
	if out == nil {
		return map[string]any{}, nil
	}
	// A value no settings document holds marks what to remove.
	const gone = "\x00removed"
	removed := false
	err := walkSecrets(out, func(path, value string) (string, error) {
		v, err := fn(path, value)
		if err == nil && v == "" {
			removed = true
			return gone, nil
		}
		return v, err
	})
	if err != nil {
		return nil, err
	}
	if removed {
		dropValue(out, gone)
	}
	return out, nil
}

// dropValue removes every object member whose value is the string v.
func dropValue(x any, v string) {
	switch t := x.(type) {
	case map[string]any:
		for k, e := range t {
			if s, ok := e.(string); ok && s == v {
				delete(t, k)
				continue
			}
			dropValue(e, v)
		}
	case []any:
		for _, e := range t {
			dropValue(e, v)
		}
	}
}

// CarrySecrets copies into dst each secret of src whose place exists in
// dst without a value: the same provider app (by provider and index) or
// the top-level key. A tenant export made without its secrets, applied to
// a tenant that has them, keeps them.
func CarrySecrets(dst, src map[string]any) {
	_ = walkSecrets(deepCopy(src).(map[string]any), func(path, value string) (string, error) {
		segs := strings.Split(path, ".")
		var cur any = dst
		for _, seg := range segs[:len(segs)-1] {
			switch c := cur.(type) {
			case map[string]any:
				cur = c[seg]
			case []any:
				i, err := strconv.Atoi(seg)
				if err != nil || i < 0 || i >= len(c) {
					return value, nil
				}
				cur = c[i]
			default:
				return value, nil
			}
		}
		if m, ok := cur.(map[string]any); ok {
			if _, has := m[segs[len(segs)-1]]; !has {
				m[segs[len(segs)-1]] = value
			}
		}
		return value, nil
	})
}
