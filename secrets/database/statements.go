package database

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/arca-secrets/arca/logical"
)

// statementsParam reads a list of statements given as a JSON array or a
// single string (Vault accepts both). Each element may hold several
// statements separated by ";".
func statementsParam(d map[string]any, key string) ([]string, error) {
	switch v := d[key].(type) {
	case nil:
		return nil, nil
	case string:
		if strings.TrimSpace(v) == "" {
			return nil, nil
		}
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, logical.Errorf(logical.ErrInvalidRequest, "%s must be a list of strings", key)
			}
			if strings.TrimSpace(s) != "" {
				out = append(out, s)
			}
		}
		return out, nil
	}
	return nil, logical.Errorf(logical.ErrInvalidRequest, "%s must be a string or a list of strings", key)
}

// split turns one element of a statement list into the statements it
// holds. An element with a dollar-quoted body (DO $$ ... $$) is one
// statement, since its ";" are inside the body.
func split(element string) []string {
	if strings.Contains(element, "$$") {
		return []string{element}
	}
	var out []string
	for _, s := range strings.Split(element, ";") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// vars are the values a statement template may use.
type vars struct {
	name, password, expiration string
}

// render fills a statement template. The values come from generators
// whose alphabet holds no quote, backslash or semicolon, or were checked
// with safeValue, so they cannot end the quoted identifier or literal the
// template puts them in.
func render(tmpl string, v vars) string {
	return strings.NewReplacer(
		"{{name}}", v.name, "{{username}}", v.name,
		"{{password}}", v.password, "{{expiration}}", v.expiration,
	).Replace(tmpl)
}

// safeValue refuses a value that could escape a quoted identifier or
// literal in a statement template.
func safeValue(what, s string) error {
	if s == "" || len(s) > 63 {
		return logical.Errorf(logical.ErrInvalidRequest, "%s must be 1 to 63 characters", what)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.' || r == '@') {
			return logical.Errorf(logical.ErrInvalidRequest, "%s may hold only letters, digits and _-.@", what)
		}
	}
	return nil
}

// run executes every statement of list, in order, on ex. An error names
// the list and the statement's place in it, and carries PostgreSQL's
// message with the password cut out.
func run(ctx context.Context, tx pgx.Tx, conn, listName string, list []string, v vars) error {
	for i, element := range list {
		stmts := split(element)
		for j, stmt := range stmts {
			if _, err := tx.Exec(ctx, render(stmt, v)); err != nil {
				where := fmt.Sprintf("%s[%d]", listName, i)
				if len(stmts) > 1 {
					where += fmt.Sprintf(" (statement %d of %d)", j+1, len(stmts))
				}
				return dbError(conn, where+" failed", err, v.password)
			}
		}
	}
	return nil
}
