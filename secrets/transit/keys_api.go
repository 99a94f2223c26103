package transit

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/arca-secrets/arca/logical"
)

func (e *engine) listKeys(ctx context.Context, req *logical.Request) (*logical.Response, error) {
	keys, err := req.Storage.List(ctx, "policy/")
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	return &logical.Response{Data: map[string]any{"keys": keys}}, nil
}

func (e *engine) createKey(ctx context.Context, req *logical.Request, name string) error {
	d := req.Data
	typ, err := logical.StringParam(d, "type")
	if err != nil {
		return err
	}
	if typ == "" {
		typ = typeAES
	}
	derived, _, err := logical.BoolParam(d, "derived")
	if err != nil {
		return err
	}
	exportable, _, err := logical.BoolParam(d, "exportable")
	if err != nil {
		return err
	}
	backup, _, err := logical.BoolParam(d, "allow_plaintext_backup")
	if err != nil {
		return err
	}
	size, _, err := logical.IntParam(d, "key_size")
	if err != nil {
		return err
	}
	if size != 0 && typ != typeHMAC {
		return logical.Errorf(logical.ErrInvalidRequest, "key_size is only for hmac keys")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	existing, err := e.loadLocked(ctx, req.Storage, name)
	if err != nil || existing != nil {
		return err // creating an existing key is a no-op, as in Vault
	}
	p, err := e.createLocked(ctx, req.Storage, name, typ, derived, exportable, backup, size)
	if err != nil {
		return err
	}
	if period, ok, err := logical.DurationParam(d, "auto_rotate_period"); err != nil {
		return err
	} else if ok {
		c := p.clone()
		c.AutoRotatePeriod = period
		return e.publish(ctx, req.Storage, c)
	}
	return nil
}

func (e *engine) readKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	p, err := e.load(ctx, req.Storage, name)
	if err != nil || p == nil {
		return nil, err
	}
	keys := map[string]any{}
	for n, v := range p.Versions {
		if asymmetric(p.Type) {
			keys[n] = map[string]any{"name": p.Type, "public_key": v.PublicKeyPEM, "creation_time": v.CreationTime.Format("2006-01-02T15:04:05.999999999Z07:00")}
		} else {
			keys[n] = v.CreationTime.Unix()
		}
	}
	return &logical.Response{Data: map[string]any{
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
		"auto_rotate_period":     int64(p.AutoRotatePeriod.Seconds()),
		"imported_key":           false,
	}}, nil
}

func (e *engine) deleteKey(ctx context.Context, req *logical.Request, name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.loadLocked(ctx, req.Storage, name)
	if err != nil || p == nil {
		return err
	}
	if !p.DeletionAllowed {
		return logical.Errorf(logical.ErrInvalidRequest, "deletion is not allowed for this key: set deletion_allowed first")
	}
	if err := req.Storage.Delete(ctx, "policy/"+name); err != nil {
		return err
	}
	delete(e.cache, name)
	return nil
}

func (e *engine) configKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.loadLocked(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "encryption key not found: %s", name)
	}
	c := p.clone()
	d := req.Data
	for key, dst := range map[string]*int{"min_decryption_version": &c.MinDecryptionVersion, "min_encryption_version": &c.MinEncryptionVersion} {
		if v, ok, err := logical.IntParam(d, key); err != nil {
			return nil, err
		} else if ok {
			*dst = v
		}
	}
	if c.MinDecryptionVersion < 1 {
		c.MinDecryptionVersion = 1
	}
	if c.MinDecryptionVersion > c.LatestVersion || c.MinEncryptionVersion > c.LatestVersion {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "min versions cannot be above the latest version (%d)", c.LatestVersion)
	}
	if c.MinEncryptionVersion != 0 && c.MinEncryptionVersion < c.MinDecryptionVersion {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "min_encryption_version cannot be below min_decryption_version")
	}
	if c.MinDecryptionVersion < c.MinAvailableVersion {
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
		c.AutoRotatePeriod = v
	}
	return nil, e.publish(ctx, req.Storage, c)
}

func (e *engine) rotateKey(ctx context.Context, req *logical.Request, name string) (*logical.Response, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.loadLocked(ctx, req.Storage, name)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, logical.Errorf(logical.ErrInvalidRequest, "encryption key not found: %s", name)
	}
	v, err := newVersion(p.Type, p.HMACKeySize)
	if err != nil {
		return nil, err
	}
	c := p.clone()
	c.LatestVersion++
	c.Versions[strconv.Itoa(c.LatestVersion)] = v
	return nil, e.publish(ctx, req.Storage, c)
}

// trimKey deletes versions below min_available_version for good.
func (e *engine) trimKey(ctx context.Context, req *logical.Request, name string) error {
	n, ok, err := logical.IntParam(req.Data, "min_available_version")
	if err != nil {
		return err
	}
	if !ok || n < 1 {
		return logical.Errorf(logical.ErrInvalidRequest, "min_available_version must be at least 1")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := e.loadLocked(ctx, req.Storage, name)
	if err != nil {
		return err
	}
	if p == nil {
		return logical.Errorf(logical.ErrInvalidRequest, "encryption key not found: %s", name)
	}
	if n > p.MinDecryptionVersion || (p.MinEncryptionVersion > 0 && n > p.MinEncryptionVersion) {
		return logical.Errorf(logical.ErrInvalidRequest, "min_available_version cannot be above min_decryption_version or min_encryption_version")
	}
	c := p.clone()
	var drop []string
	for k := range c.Versions {
		if v, _ := strconv.Atoi(k); v < n {
			drop = append(drop, k)
		}
	}
	sort.Strings(drop)
	for _, k := range drop {
		delete(c.Versions, k)
	}
	c.MinAvailableVersion = n
	return e.publish(ctx, req.Storage, c)
}

// autoRotate rotates p when its latest version is older than its
// auto_rotate_period. It runs on use (encrypt, sign, hmac, datakey), so a
// key nobody uses is not rotated until it is used again, which is when
// rotation matters.
func (e *engine) autoRotate(ctx context.Context, req *logical.Request, p *keyPolicy) (*keyPolicy, error) {
	if p.AutoRotatePeriod <= 0 {
		return p, nil
	}
	latest := p.Versions[strconv.Itoa(p.LatestVersion)]
	if latest == nil || time.Since(latest.CreationTime) < p.AutoRotatePeriod {
		return p, nil
	}
	if _, err := e.rotateKey(ctx, req, p.Name); err != nil {
		return nil, err
	}
	return e.load(ctx, req.Storage, p.Name)
}
