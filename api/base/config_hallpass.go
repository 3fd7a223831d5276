package base

import (
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// hallpassConfig is config's "hallpass" object, what Hallpass adds to
// allauth's configuration: the tenant's declared user fields, so a
// frontend can render its signup and profile forms.
type hallpassConfig struct {
	UserFields userdata.Fields `json:"user_fields"`
}

// configWithHallpass is allauth's configuration with the "hallpass" key
// after allauth's own.
type configWithHallpass struct {
	configResponse
	Hallpass *hallpassConfig `json:"hallpass,omitempty"`
}

// frontendConfig is GET config's data: allauth's configuration, plus
// "hallpass" only when the tenant declares user fields (otherwise the
// document is allauth's, byte for byte).
func frontendConfig(s *tenants.Settings, client string) any {
	data := configData(s, client)
	if len(s.UserFields) == 0 {
		return data
	}
	return configWithHallpass{configResponse: data, Hallpass: &hallpassConfig{UserFields: s.UserFields}}
}
