package transit

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/arca-secrets/arca/logical"
)

func (e *engine) listKeys(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, policyPrefix)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	sort.Strings(keys)
	return &logical.Response{Data: map[string]any{"keys": keys}}, nil
}

// createKey answers POST keys/:name. Creating a key that exists changes
// nothing, as in Vault.
func (e *engine) createKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	d := req.Data
	typ, err := logical.StringParam(d, "type")
	if err != nil {
		return nil, err
	}
	if typ == "" {
		typ = typeAES
	}
	var derived, exportable, backup bool
	for key, dst := range map[string]*bool{"derived": &derived, "exportable": &exportable, "allow_plaintext_backup": &backup} {
		if *dst, _, err = logical.BoolParam(d, key); err != nil {
			return nil, err
		}
	}
	if err := refuseConvergent(d); err != nil {
		return nil, err
	}
	size, _, err := logical.IntParam(d, "key_size")
	if err != nil {
		return nil, err
	}
	period, _, err := logical.DurationParam(d, "auto_rotate_period")
	if err != nil {
		return nil, err
	}
	if err := checkRotatePeriod(period); err != nil {
		return nil, err
	}
	_, err = e.keys.update(ctx, req.Storage, name, func(cur *keyPolicy) (*keyPolicy, error) {
		if cur != nil {
			return nil, nil
		}
		p, err := newPolicy(name, typ, derived, size, e.now())
		if err != nil {
			return nil, err
		}
		p.Exportable, p.AllowPlaintextBackup, p.AutoRotatePeriod = exportable, backup, period
		return p, nil
	})
	return nil, err
}

// refuseConvergent answers a request for convergent encryption (the same
// plaintext giving the same ciphertext) with an error rather than quietly
// making a key that does not do what was asked.
func refuseConvergent(d map[string]any) error {
	conv, _, err := logical.BoolParam(d, "convergent_encryption")
	if err != nil {
		return err
	}
	if conv {
		return logical.Errorf(logical.ErrInvalidRequest, "convergent_encryption is not supported")
	}
	return nil
}

// checkRotatePeriod applies Vault's bound: zero (off) or at least an hour.
func checkRotatePeriod(d time.Duration) error {
	if d != 0 && d < time.Hour {
		return logical.Errorf(logical.ErrInvalidRequest, "auto_rotate_period must be 0 (off) or at least 1h")
	}
	return nil
}

// readKey answers GET keys/:name in Vault's shape: keys maps each version
// to its creation time (Unix seconds), or for asymmetric keys to its public
// key.
func (e *engine) readKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.keys.get(ctx, req.Storage, name)
	if err != nil || p == nil {
		return nil, err
	}
	keys := map[string]any{}
	for n, v := range p.Versions {
		if asymmetric(p.Type) {
			pub, err := publicKeyText(v.signer.Public())
			if err != nil {
				return nil, err
			}
			keys[n] = map[string]any{
				"name":          keyName(p.Type),
				"public_key":    pub,
				"creation_time": v.CreationTime.Format(time.RFC3339Nano),
			}
		} else {
			keys[n] = v.CreationTime.Unix()
		}
	}
	data := map[string]any{
		"name":                   p.Name,
		"type":                   p.Type,
		"keys":                   keys,
		"latest_version":         p.LatestVersion,
		"min_available_version":  p.MinAvailableVersion,
		"min_decryption_version": p.MinDecryptionVersion,
		"min_encryption_version": p.MinEncryptionVersion,
		"deletion_allowed":       p.DeletionAllowed,
		"derived":                p.Derived,
		"exportable":             p.Exportable,
		"allow_plaintext_backup": p.AllowPlaintextBackup,
		"supports_encryption":    symmetric(p.Type),
		"supports_decryption":    symmetric(p.Type),
		"supports_derivation":    symmetric(p.Type),
		"supports_signing":       asymmetric(p.Type),
		"auto_rotate_period":     int64(p.AutoRotatePeriod / time.Second),
		"imported_key":           false,
	}
	if p.Derived {
		data["kdf"] = "hkdf_sha256"
		data["convergent_encryption"] = false
	}
	return &logical.Response{Data: data}, nil
}

// deleteKey answers DELETE keys/:name, refused unless deletion_allowed.
func (e *engine) deleteKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	ent, p, err := e.keys.lock(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	defer e.keys.unlock(name, ent)
	if p == nil {
		return nil, nil
	}
	if !p.DeletionAllowed {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "deletion is not allowed for key %s: set deletion_allowed in its config first", name)
	}
	return nil, ent.remove(ctx, req.Storage, name)
}

// configKey answers POST keys/:name/config.
func (e *engine) configKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	d := req.Data
	_, err := e.keys.update(ctx, req.Storage, name, func(p *keyPolicy) (*keyPolicy, error) {
		if p == nil {
			return nil, errNoKey(name)
		}
		c := p.clone()
		for key, dst := range map[string]*int{"min_decryption_version": &c.MinDecryptionVersion, "min_encryption_version": &c.MinEncryptionVersion} {
			if v, ok, err := logical.IntParam(d, key); err != nil {
				return nil, err
			} else if ok {
				*dst = v
			}
		}
		c.MinDecryptionVersion = max(c.MinDecryptionVersion, 1)
		switch {
		case c.MinDecryptionVersion > c.LatestVersion || c.MinEncryptionVersion > c.LatestVersion:
			return nil, logical.Errorf(logical.ErrInvalidRequest, "min versions cannot be above the latest version (%d)", c.LatestVersion)
		case c.MinEncryptionVersion != 0 && c.MinEncryptionVersion < c.MinDecryptionVersion:
			return nil, logical.Errorf(logical.ErrInvalidRequest, "min_encryption_version cannot be below min_decryption_version")
		case c.MinDecryptionVersion < c.MinAvailableVersion:
			return nil, logical.Errorf(logical.ErrInvalidRequest, "versions below %d were trimmed", c.MinAvailableVersion)
		}
		for key, dst := range map[string]*bool{"deletion_allowed": &c.DeletionAllowed, "allow_plaintext_backup": &c.AllowPlaintextBackup} {
			if v, ok, err := logical.BoolParam(d, key); err != nil {
				return nil, err
			} else if ok {
				*dst = v
			}
		}
		if v, ok, err := logical.BoolParam(d, "exportable"); err != nil {
			return nil, err
		} else if ok {
			if !v && p.Exportable {
				return nil, logical.Errorf(logical.ErrInvalidRequest, "exportable cannot be disabled once enabled")
			}
			c.Exportable = v
		}
		if v, ok, err := logical.DurationParam(d, "auto_rotate_period"); err != nil {
			return nil, err
		} else if ok {
			if err := checkRotatePeriod(v); err != nil {
				return nil, err
			}
			c.AutoRotatePeriod = v
		}
		return c, nil
	})
	return nil, err
}

// rotated returns a clone of p with a new latest version.
func rotated(p *keyPolicy, now time.Time) (*keyPolicy, error) {
	v, err := newVersion(p.Type, p.Derived, p.HMACKeySize, now)
	if err != nil {
		return nil, err
	}
	c := p.clone()
	c.LatestVersion++
	c.Versions[strconv.Itoa(c.LatestVersion)] = v
	return c, nil
}

func (e *engine) rotateKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	_, err := e.keys.update(ctx, req.Storage, name, func(p *keyPolicy) (*keyPolicy, error) {
		if p == nil {
			return nil, errNoKey(name)
		}
		return rotated(p, e.now())
	})
	return nil, err
}

// trimKey deletes versions below min_available_version for good.
func (e *engine) trimKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	n, ok, err := logical.IntParam(req.Data, "min_available_version")
	if err != nil {
		return nil, err
	}
	if !ok || n < 1 {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "min_available_version must be at least 1")
	}
	_, err = e.keys.update(ctx, req.Storage, name, func(p *keyPolicy) (*keyPolicy, error) {
		if p == nil {
			return nil, errNoKey(name)
		}
		if n > p.MinDecryptionVersion || (p.MinEncryptionVersion > 0 && n > p.MinEncryptionVersion) {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "min_available_version cannot be above min_decryption_version or min_encryption_version")
		}
		if n < p.MinAvailableVersion {
			return nil, logical.Errorf(logical.ErrInvalidRequest, "min_available_version cannot go down (it is %d)", p.MinAvailableVersion)
		}
		c := p.clone()
		for k := range c.Versions {
			if v, _ := strconv.Atoi(k); v < n {
				delete(c.Versions, k)
			}
		}
		c.MinAvailableVersion = n
		return c, nil
	})
	return nil, err
}

// useKey returns the key for an operation that makes something new
// (encrypt, sign, hmac, datakey), first rotating it when its latest version
// is older than auto_rotate_period. Rotation happens on use, so a key
// nobody uses is not rotated until it is used again, which is when it
// matters.
func (e *engine) useKey(ctx context.Context, req *logical.Request, p *keyPolicy) (*keyPolicy, error) {
	if p.AutoRotatePeriod <= 0 {
		return p, nil
	}
	latest := p.Versions[strconv.Itoa(p.LatestVersion)]
	if e.now().Sub(latest.CreationTime) < p.AutoRotatePeriod {
		return p, nil
	}
	return e.keys.update(ctx, req.Storage, p.Name, func(cur *keyPolicy) (*keyPolicy, error) {
		if cur == nil {
			return nil, errNoKey(p.Name)
		}
		// Another request may have rotated it while this one waited.
		if cur.AutoRotatePeriod <= 0 || e.now().Sub(cur.Versions[strconv.Itoa(cur.LatestVersion)].CreationTime) < cur.AutoRotatePeriod {
			return nil, nil
		}
		return rotated(cur, e.now())
	})
}
