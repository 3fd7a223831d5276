package logscan_test

import (
	"log/slog"
	"testing"
)

func TestMutationLeak(t *testing.T) {
	env, logs, log := logged(t, accountSettings)
	_ = env
	log.Info("oops", "password", "first horse battery staple")
	env.Client("app").Do("GET", "config", "")
	s := secrets{}
	s.add(t, "pw", "first horse battery staple")
	scan(t, logs.String(), s, 1)
	_ = slog.Default()
}
