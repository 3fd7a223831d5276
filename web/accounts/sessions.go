package accounts

import (
	"github.com/hallpass/hallpass/internal/sessions"
)

// sessionPages serves the sessions page.
type sessionPages struct{ *Pages }

// sessionsView is what the sessions page shows.
type sessionsView struct {
	Sessions []sessions.Info
	CSRF     string
	Action   string
	Notice   string
	// Others reports whether any session is not the current one.
	Others bool
}

// sessionsPage is GET /accounts/sessions/ (usersessions in HALLPASS_APPS):
// the user's sessions, with a button that ends every other one.
func (p sessionPages) sessionsPage(r *Request) error {
	u, err := r.RequireUser()
	if u == nil {
		return err
	}
	list, err := p.Accounts.SessionOps.UserSessions(r.Ctx(), r.Tenant, r.Session)
	if err != nil {
		return err
	}
	v := sessionsView{Sessions: list, CSRF: r.CSRF(), Action: r.Path(Prefix + "sessions/")}
	if r.C.Query("done") == "ended" {
		v.Notice = "Signed out of all other sessions."
	}
	for _, s := range list {
		if !s.Current {
			v.Others = true
		}
	}
	return r.Render(200, "Sessions", sessionsPage(v))
}

// sessionsPost ends every session of the user but this one, through the
// same domain call as DELETE auth/sessions.
func (p sessionPages) sessionsPost(r *Request) error {
	u, err := r.RequireUser()
	if u == nil {
		return err
	}
	list, err := p.Accounts.SessionOps.UserSessions(r.Ctx(), r.Tenant, r.Session)
	if err != nil {
		return err
	}
	var others []int64
	for _, s := range list {
		if !s.Current {
			others = append(others, s.ID)
		}
	}
	if len(others) > 0 {
		if _, err := p.Accounts.SessionOps.EndSessions(r.Ctx(), r.Tenant, r.Session, others); err != nil {
			return err
		}
	}
	return r.Redirect(r.Path(Prefix + "sessions/?done=ended"))
}
