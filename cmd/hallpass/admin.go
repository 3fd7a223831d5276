package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/passwords"
)

func (c *cli) admin(ctx context.Context, args []string) error {
	if len(args) == 2 && args[0] == "reset-mfa" {
		return c.adminResetMFA(ctx, args[1])
	}
	if len(args) < 2 || args[0] != "create" {
		return usageError("admin: want `admin create EMAIL [--password-stdin]` or `admin reset-mfa EMAIL`")
	}
	email := args[1]
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	fromStdin := fs.Bool("password-stdin", false, "read the password from standard input instead of generating one")
	if err := fs.Parse(args[2:]); err != nil {
		return usageError(err.Error())
	}
	if _, _, err := console.NormalizeEmail(email); err != nil {
		return err
	}
	password := ""
	if *fromStdin {
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		if err != nil && line == "" {
			return errors.New("admin create: no password on standard input")
		}
		password = strings.TrimRight(line, "\r\n")
		if len(password) < 12 {
			return errors.New("admin create: password must have at least 12 characters")
		}
	}
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	user, generated, err := createAdmin(ctx, console.NewUsers(d.pool), email, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "platform admin created: %s (id %s)\n", user.Email, user.ID)
	if generated != "" {
		fmt.Fprintf(c.stdout, "password (shown once, stored only as an argon2id hash): %s\n", generated)
	}
	return nil
}

// createAdmin stores a platform admin; with an empty password it generates
// one and returns it so the caller can show it once.
func createAdmin(ctx context.Context, users *console.Users, email, password string) (*console.User, string, error) {
	generated := ""
	if password == "" {
		password = randomPassword()
		generated = password
	}
	hash, err := passwords.DefaultHasher().Hash(password)
	if err != nil {
		return nil, "", err
	}
	user, err := users.CreatePlatformAdmin(ctx, email, hash, "cli")
	if err != nil {
		return nil, "", err
	}
	return user, generated, nil
}

// randomPassword returns 20 characters from an unambiguous alphabet (~115 bits).
func randomPassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	return pick(alphabet, 20)
}

func pick(alphabet string, n int) string {
	b := make([]byte, n)
	max := byte(256 - 256%len(alphabet))
	buf := make([]byte, 1)
	for i := 0; i < n; {
		_, _ = rand.Read(buf)
		if buf[0] >= max {
			continue // rejection sampling keeps the choice uniform
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}

// adminResetMFA removes a console user's second factors (a lost device and
// lost recovery codes) and ends their sessions: `admin reset-mfa EMAIL`.
func (c *cli) adminResetMFA(ctx context.Context, email string) error {
	if _, _, err := console.NormalizeEmail(email); err != nil {
		return err
	}
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	n, err := console.NewUsers(d.pool).ResetMFA(ctx, email, "cli")
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("admin reset-mfa: no console user %s", email)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "MFA reset for %s: %d authenticator(s) removed, sessions ended; they sign in with the password and set MFA up again\n", email, n)
	return nil
}
