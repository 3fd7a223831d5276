// Package logscan proves that the server's logs hold no secret: its test
// runs the account, MFA and token flows through HTTP with the server's
// logger captured, collects every secret the flows handled (passwords,
// session tokens and cookies, access and refresh tokens, verification and
// reset keys, login codes, TOTP seeds and codes, recovery codes) and looks
// for each in the log. It has only tests.
package logscan
