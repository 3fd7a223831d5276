package main

import (
	"testing"
	"time"
)

func TestRetentionConfig(t *testing.T) {
	env := map[string]string{"HALLPASS_OUTBOX_RETENTION": "3d", "HALLPASS_AUDIT_RETENTION": "36h"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SentMailRetention != 72*time.Hour || cfg.AuditRetention != 36*time.Hour || cfg.UnsentMailRetention != 0 {
		t.Fatalf("retentions %v %v %v", cfg.SentMailRetention, cfg.AuditRetention, cfg.UnsentMailRetention)
	}
	for _, bad := range []string{"1m", "x", "-3d", "0", "d", "1.5d"} {
		if _, err := loadConfig(func(k string) string {
			if k == "HALLPASS_OUTBOX_UNSENT_RETENTION" {
				return bad
			}
			return ""
		}); err == nil {
			t.Errorf("HALLPASS_OUTBOX_UNSENT_RETENTION=%q accepted", bad)
		}
	}
}
