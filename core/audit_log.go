package core

import (
	"context"
	"fmt"

	"github.com/arca-secrets/arca/audit"
	"github.com/arca-secrets/arca/token"
)

func auditAuth(te *token.Entry) *audit.Auth {
	if te == nil {
		return nil
	}
	return &audit.Auth{ClientToken: te.ID, Accessor: te.Accessor, Policies: te.Policies, DisplayName: te.DisplayName, TokenType: te.Type, Metadata: te.Meta}
}

// logRequest records a request about to be served; an error means it must
// not be served.
func (c *Core) logRequest(ctx context.Context, te *token.Entry, ar *audit.Request) error {
	if err := c.audit.LogRequest(ctx, auditAuth(te), ar, ""); err != nil {
		c.auditFailures.Add(1)
		c.log.Error("audit failed: refusing the request", "path", ar.Path, "error", err)
		return ErrAudit
	}
	return nil
}

// logRefusal records a request refused before it was served; a failure to
// record it changes nothing, the request is refused either way.
func (c *Core) logRefusal(ctx context.Context, te *token.Entry, ar *audit.Request, cause error) {
	_ = c.audit.LogRequest(ctx, auditAuth(te), ar, cause.Error())
}

// logResponse records a response about to be sent; an error means it must
// not be sent.
func (c *Core) logResponse(ctx context.Context, te *token.Entry, ar *audit.Request, res *Result, cause error) error {
	resp := &audit.Response{}
	if res != nil {
		if res.Response != nil {
			resp.Data = res.Response.Data
		}
		if res.Issued != nil {
			resp.Issued = auditAuth(res.Issued)
		}
	}
	errText := ""
	if cause != nil {
		errText = cause.Error()
	}
	if err := c.audit.LogResponse(ctx, auditAuth(te), ar, resp, errText); err != nil {
		c.auditFailures.Add(1)
		c.log.Error("audit failed: withholding the response", "path", ar.Path, "error", err)
		return ErrAudit
	}
	return nil
}

// revokeUnrecorded revokes a token whose issuing could not be recorded.
func (c *Core) revokeUnrecorded(ctx context.Context, st *unsealed, e *token.Entry) {
	if e == nil || e.Type == "batch" {
		return
	}
	if err := st.tokens.Revoke(ctx, e); err != nil {
		c.log.Error("revoking a token whose issuing was not recorded", "accessor", e.Accessor, "error", fmt.Sprint(err))
	}
}
