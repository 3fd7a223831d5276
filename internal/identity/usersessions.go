package identity

import (
	"context"
	"strconv"

	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// UserSessions lists the logged-in user's live sessions, oldest first.
func (a *SessionOps) UserSessions(ctx context.Context, t *tenants.Tenant, sess *sessions.Session) ([]sessions.Info, error) {
	if !sess.Authenticated() {
		return nil, ErrNotAuthenticated
	}
	return a.Sessions.List(ctx, t.ID, sess.State.UserID, sess.ID())
}

// EndSessions ends the listed sessions of the logged-in user; ids of
// sessions that are not the user's are an error (nothing ends). It reports
// whether the current session was among them.
func (a *SessionOps) EndSessions(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, ids []int64) (bool, error) {
	if !sess.Authenticated() {
		return false, ErrNotAuthenticated
	}
	mine, err := a.UserSessions(ctx, t, sess)
	if err != nil {
		return false, err
	}
	byID := map[int64]sessions.Info{}
	for _, s := range mine {
		byID[s.ID] = s
	}
	current := false
	for _, id := range ids {
		s, ok := byID[id]
		if !ok {
			return false, Errors{{Code: "invalid_choice", Param: "sessions",
				Message: "Select a valid choice. " + strconv.FormatInt(id, 10) + " is not one of the available choices."}}
		}
		current = current || s.Current
	}
	if err := a.Sessions.EndListed(ctx, t.ID, sess.State.UserID, ids, a.sessionEnded(t, endedByUser)); err != nil {
		return false, err
	}
	if current {
		sess.Clear()
	}
	return current, nil
}
