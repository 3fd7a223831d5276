package usersessions

import (
	"time"

	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// sessionsData is allauth's list of sessions; last_seen_at only with
// USERSESSIONS_TRACK_ACTIVITY.
func sessionsData(s *tenants.Settings, list []sessions.Info) []map[string]any {
	out := []map[string]any{}
	for _, info := range list {
		d := map[string]any{"id": info.ID, "user_agent": info.UserAgent, "ip": info.IP,
			"created_at": epoch(info.CreatedAt), "is_current": info.Current}
		if s.UserSessionsTrackActivity {
			d["last_seen_at"] = epoch(info.LastSeenAt)
		}
		out = append(out, d)
	}
	return out
}

// epoch is a time as allauth serialises it: seconds since 1970, fractional.
func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }
