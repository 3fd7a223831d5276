// Package faults holds the fault-injection harness: a private PostgreSQL
// cluster and a private redis-server per test, on free loopback ports in a
// temporary directory, that a test can stop, kill and restart while a real
// hallpass server runs against them under load.
//
// The helpers never touch the services `make test` starts (or anything else
// they did not start themselves): each process is a direct child of the test
// binary, signalled by its own pid, killed by the test's cleanup even when
// the test fails, and killed by the kernel (PR_SET_PDEATHSIG) if the test
// binary itself dies.
//
// The scenarios are in faults_test.go; docs/RELIABILITY.md has their figures.
package faults
