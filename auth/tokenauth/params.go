package tokenauth

import (
	"time"

	"github.com/arca-secrets/arca/logical"
)

// createParams are the parameters of auth/token/create.
type createParams struct {
	id, displayName, tokenType  string
	policies                    []string
	meta                        map[string]string
	noParent, noDefaultPolicy   bool
	renewable                   bool
	ttl, explicitMaxTTL, period time.Duration
	numUses                     int
}

func parseCreateParams(data map[string]any) (*createParams, error) {
	p := &createParams{renewable: true}
	var err error
	if p.id, err = logical.StringParam(data, "id"); err != nil {
		return nil, err
	}
	if p.displayName, err = logical.StringParam(data, "display_name"); err != nil {
		return nil, err
	}
	if p.tokenType, err = logical.StringParam(data, "type"); err != nil {
		return nil, err
	}
	if p.policies, err = logical.StringListParam(data, "policies"); err != nil {
		return nil, err
	}
	if p.meta, err = logical.StringMapParam(data, "meta"); err != nil {
		return nil, err
	}
	if p.noParent, _, err = logical.BoolParam(data, "no_parent"); err != nil {
		return nil, err
	}
	if p.noDefaultPolicy, _, err = logical.BoolParam(data, "no_default_policy"); err != nil {
		return nil, err
	}
	if v, ok, err := logical.BoolParam(data, "renewable"); err != nil {
		return nil, err
	} else if ok {
		p.renewable = v
	}
	for key, dst := range map[string]*time.Duration{"ttl": &p.ttl, "explicit_max_ttl": &p.explicitMaxTTL, "period": &p.period} {
		if *dst, _, err = logical.DurationParam(data, key); err != nil {
			return nil, err
		}
	}
	if _, ok := data["lease"]; ok && p.ttl == 0 {
		if p.ttl, _, err = logical.DurationParam(data, "lease"); err != nil {
			return nil, err
		}
	}
	if p.numUses, _, err = logical.IntParam(data, "num_uses"); err != nil {
		return nil, err
	}
	return p, nil
}
