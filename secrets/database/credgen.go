package database

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/arca-secrets/arca/logical"
)

// defaultUsernameTemplate names a user after who asked, for which role,
// and when, so a credential seen in the database's logs is traceable:
// v-<display name>-<role>-<random>-<unix time>, at most 63 characters
// (PostgreSQL's identifier limit). Vault keeps 8 characters of the display
// name; Arca keeps 20, since "workload-reports" or "approle-web1" is
// what says which workload asked.
const defaultUsernameTemplate = `{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 20) (.RoleName | truncate 8) (random 12) (unix_time) | truncate 63 }}`

const (
	lower = "abcdefghijklmnopqrstuvwxyz"
	upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digit = "0123456789"
)

// templateFuncs are the functions a username template may call; the time
// functions all read now, the time of issue.
func templateFuncs(now time.Time) template.FuncMap {
	return template.FuncMap{
		"truncate": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"random":           func(n int) (string, error) { return randomString(n, lower+upper+digit) },
		"unix_time":        func() string { return strconv.FormatInt(now.Unix(), 10) },
		"unix_time_millis": func() string { return strconv.FormatInt(now.UnixMilli(), 10) },
		"timestamp":        func(layout string) string { return now.UTC().Format(layout) },
		"lowercase":        strings.ToLower,
		"uppercase":        strings.ToUpper,
		"replace":          func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	}
}

// parseUsernameTemplate parses a username template whose time functions
// read now.
func parseUsernameTemplate(s string, now time.Time) (*template.Template, error) {
	t, err := template.New("username").Funcs(templateFuncs(now)).Option("missingkey=error").Parse(s)
	if err != nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "username_template: %v", err)
	}
	return t, nil
}

// generateUsername renders the connection's username template (or the
// default) for a role and a caller at now, the time of issue. The result
// must be a safe value: the caller's display name is cleaned of anything
// else first.
func generateUsername(tmpl, role, displayName string, now time.Time) (string, error) {
	if tmpl == "" {
		tmpl = defaultUsernameTemplate
	}
	t, err := parseUsernameTemplate(tmpl, now)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	data := struct{ DisplayName, RoleName string }{clean(displayName), clean(role)}
	if err := t.Execute(&b, data); err != nil {
		return "", logical.Errorf(logical.ErrInvalidRequest, "username_template: %v", err)
	}
	name := b.String()
	if err := safeValue("a generated username", name); err != nil {
		return "", logical.Errorf(logical.ErrInvalidRequest, "username_template produced an unusable username: %v", err)
	}
	return name, nil
}

// clean keeps the characters a username may hold.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, s)
}

// newPassword draws a password from the connection's password policy,
// or Arca's default without one. A policy whose password holds a
// character that could end the quoted literal a statement template puts
// it in is refused (the password itself is never shown).
func (e *Engine) newPassword(ctx context.Context, c *connConfig) (string, error) {
	if c.PasswordPolicy == "" {
		return generatePassword()
	}
	if e.policyPassword == nil {
		return "", logical.Errorf(logical.ErrInvalidRequest, "password policies are not available to this mount")
	}
	pw, err := e.policyPassword(ctx, c.PasswordPolicy)
	if err != nil {
		return "", err
	}
	for _, r := range pw {
		if strings.ContainsRune(unsafeInLiteral, r) || r < 0x20 {
			return "", logical.Errorf(logical.ErrInvalidRequest, "password policy %q produces characters that cannot be placed in a statement safely (any of %s); take them out of its charsets", c.PasswordPolicy, unsafeInLiteral)
		}
	}
	return pw, nil
}

// unsafeInLiteral are the characters a password must not hold: quotes and
// backslash end or escape a literal, "$" starts dollar quoting, ";" ends a
// statement.
const unsafeInLiteral = `'"\$;`

// passwordLength is the length of generated passwords.
const passwordLength = 20

// generatePassword returns a password of passwordLength characters from
// letters, digits and "-", with at least one of each kind (Vault's
// default password policy, so the same database password rules pass).
func generatePassword() (string, error) {
	for {
		p, err := randomString(passwordLength, lower+upper+digit+"-")
		if err != nil {
			return "", err
		}
		if strings.ContainsAny(p, lower) && strings.ContainsAny(p, upper) && strings.ContainsAny(p, digit) && strings.Contains(p, "-") {
			return p, nil
		}
	}
}

// randomString draws n characters uniformly from alphabet.
func randomString(n int, alphabet string) (string, error) {
	if n < 0 || n > 1024 {
		return "", fmt.Errorf("random: length %d out of range", n)
	}
	out := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		out[i] = alphabet[k.Int64()]
	}
	return string(out), nil
}
