//go:build !linux

package base_test

import "time"

// threadCPU is unknown off Linux.
func threadCPU() time.Duration { return 0 }
