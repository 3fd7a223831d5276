package userdata

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// View is allauth's serialised user (serialize_user), empty fields
// dropped, with the keys of the tenant's HALLPASS_USER_SERIALIZER merged
// in after allauth's own (Extra, a JSON object rendered by Exprs.Render;
// nil: none). allauth's keys are encoded in sorted order, as they were when
// the object was a map. The API and the console's preview both render it.
type View struct {
	Display           string
	Email             string
	HasUsablePassword bool
	ID                int64
	Username          string
	Extra             json.RawMessage
}

// MarshalJSON writes allauth's keys, then Extra's.
func (v View) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 96+len(v.Extra))
	b = append(b, `{"display":`...)
	b = appendString(b, v.Display)
	if v.Email != "" {
		b = append(b, `,"email":`...)
		b = appendString(b, v.Email)
	}
	b = append(b, `,"has_usable_password":`...)
	b = strconv.AppendBool(b, v.HasUsablePassword)
	b = append(b, `,"id":`...)
	b = strconv.AppendInt(b, v.ID, 10)
	if v.Username != "" {
		b = append(b, `,"username":`...)
		b = appendString(b, v.Username)
	}
	if extra := bytes.TrimSpace(v.Extra); len(extra) > 2 && extra[0] == '{' {
		b = append(b, ',')
		b = append(b, extra[1:len(extra)-1]...)
	}
	return append(b, '}'), nil
}

func appendString(b []byte, s string) []byte {
	enc, _ := json.Marshal(s) // a string always encodes
	return append(b, enc...)
}
