// Package isolation proves that no credential issued by one tenant works at
// another: it has only tests.
package isolation
