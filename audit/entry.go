package audit

import (
	"time"
)

// Auth is who made a request.
type Auth struct {
	// ClientToken is hashed before it is written; never logged raw.
	ClientToken string
	Accessor    string
	Policies    []string
	DisplayName string
	TokenType   string
	Metadata    map[string]string
}

// Request is what was asked.
type Request struct {
	ID         string
	Operation  string
	Path       string
	MountPoint string
	MountType  string
	ClientAddr string
	Data       map[string]any
	WrapTTL    time.Duration
}

// Response is what was answered. Issued is the token a login or token
// creation made (its ID is hashed).
type Response struct {
	Data   map[string]any
	Issued *Auth
	Error  string
}

// Options are a device's logging options, as in Vault.
type Options struct {
	// LogRaw writes values unhashed (for debugging only; never default).
	LogRaw bool
	// HMACAccessor hashes token accessors too (default true).
	HMACAccessor bool
	// Prefix is written before every line.
	Prefix string
}

// format builds the JSON object for one entry in Vault's shape.
func format(kind string, now time.Time, salt *Salt, opts Options, a *Auth, r *Request, resp *Response, errText string) map[string]any {
	hash := func(v string) any {
		if v == "" || opts.LogRaw {
			return v
		}
		return salt.Hash(v)
	}
	values := func(m map[string]any) any {
		if m == nil {
			return nil
		}
		if opts.LogRaw {
			return m
		}
		return salt.hashValues(m)
	}
	accessor := func(v string) any {
		if opts.HMACAccessor {
			return hash(v)
		}
		return v
	}
	out := map[string]any{"time": now.UTC().Format(time.RFC3339Nano), "type": kind}
	if a != nil {
		out["auth"] = map[string]any{
			"client_token": hash(a.ClientToken),
			"accessor":     accessor(a.Accessor),
			"policies":     a.Policies,
			"display_name": a.DisplayName,
			"token_type":   a.TokenType,
			"metadata":     a.Metadata,
		}
	}
	if r != nil {
		req := map[string]any{
			"id":             r.ID,
			"operation":      r.Operation,
			"path":           r.Path,
			"mount_point":    r.MountPoint,
			"mount_type":     r.MountType,
			"remote_address": r.ClientAddr,
			"data":           values(r.Data),
		}
		if r.WrapTTL > 0 {
			req["wrap_ttl"] = int64(r.WrapTTL / time.Second)
		}
		out["request"] = req
	}
	if resp != nil {
		rm := map[string]any{"data": values(resp.Data)}
		if resp.Issued != nil {
			rm["auth"] = map[string]any{
				"client_token": hash(resp.Issued.ClientToken),
				"accessor":     accessor(resp.Issued.Accessor),
				"policies":     resp.Issued.Policies,
				"display_name": resp.Issued.DisplayName,
				"token_type":   resp.Issued.TokenType,
			}
		}
		out["response"] = rm
	}
	if errText != "" {
		out["error"] = errText
	}
	return out
}
