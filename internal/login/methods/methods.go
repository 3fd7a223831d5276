// Package methods registers the login pipeline's authentication methods.
// Adding a method is its own folder under internal/login and one line
// here.
package methods

import (
	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/internal/login/code"
	"github.com/hallpass/hallpass/internal/login/password"
	"github.com/hallpass/hallpass/internal/login/recovery"
	"github.com/hallpass/hallpass/internal/login/social"
	"github.com/hallpass/hallpass/internal/login/totp"
	"github.com/hallpass/hallpass/internal/login/webauthn"
)

// All are the registered methods, in registration order (which orders the
// login stages they declare).
var All = login.Registry{
	password.Method{},
	code.Method{},
	totp.Method{},
	recovery.Method{},
	webauthn.Method{},
	social.Method{},
}
