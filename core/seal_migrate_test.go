package core

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arca-secrets/arca/barrier"
	"github.com/arca-secrets/arca/core/sealconf"
	"github.com/arca-secrets/arca/seal"
	"github.com/arca-secrets/arca/secmem"
	"github.com/arca-secrets/arca/storage"
	"github.com/arca-secrets/arca/storage/inmem"
)

// namedAuto is an autoSeal of another type, for migrating between two
// seals that unseal by themselves.
type namedAuto struct {
	*autoSeal
	name string
}

func (s namedAuto) Type() string { return s.name }

// migrationFixture is a storage initialised with one seal, holding a
// wrapped response (data under the barrier), and the shares that
// authorise: unseal shares, or recovery shares.
type migrationFixture struct {
	st      storage.Backend
	shares  [][]byte
	wrapped string
	keyring []byte
}

func newMigrationFixture(t *testing.T, st storage.Backend, s seal.Seal) *migrationFixture {
	t.Helper()
	ctx := context.Background()
	c := newSealCore(s, st)
	p := InitParams{SecretShares: 3, SecretThreshold: 2}
	if s.AutoUnseal() {
		p = InitParams{RecoveryShares: 3, RecoveryThreshold: 2}
	}
	res, err := c.InitWith(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	f := &migrationFixture{st: st, shares: append(res.Shares, res.RecoveryShares...)}
	if s.AutoUnseal() {
		err = c.AutoUnseal(ctx)
	} else {
		for _, sh := range f.shares[:2] {
			if _, err = c.Unseal(ctx, sh); err != nil {
				break
			}
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Wrap(ctx, []byte(`{"data":{"secret":"kept"}}`), time.Hour, "sys/wrapping/wrap", "")
	if err != nil {
		t.Fatal(err)
	}
	f.wrapped = info.Token
	if err := c.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	f.keyring = f.rawKeyring(t)
	return f
}

func (f *migrationFixture) rawKeyring(t *testing.T) []byte {
	t.Helper()
	e, err := f.st.Get(context.Background(), barrier.KeyringPath)
	if err != nil || e == nil {
		t.Fatalf("keyring: %v, %v", e, err)
	}
	return e.Value
}

// checkData fails unless c is unsealed, reads the wrapped response and
// the keyring is the one written before any migration.
func (f *migrationFixture) checkData(t *testing.T, c *Core) {
	t.Helper()
	if c.Sealed() {
		t.Fatal("sealed, want unsealed")
	}
	if _, err := c.WrapLookup(context.Background(), f.wrapped); err != nil {
		t.Fatalf("the wrapped response written before the migration: %v", err)
	}
	if !bytes.Equal(f.rawKeyring(t), f.keyring) {
		t.Fatal("the stored keyring changed: a migration re-encrypts nothing")
	}
}

func (f *migrationFixture) storedConf(t *testing.T) *sealconf.Config {
	t.Helper()
	conf, err := sealconf.Read(context.Background(), f.st)
	if err != nil || conf == nil {
		t.Fatalf("seal config: %v, %v", conf, err)
	}
	return conf
}

func newMigratingCore(st storage.Backend, from, to seal.Seal) *Core {
	return New(Config{Storage: st, StorageType: "inmem", Memory: secmem.BestEffort, Seal: to, MigrateFrom: from})
}

// migrate gives shares to UnsealMigrate and fails unless the last one
// unseals.
func migrate(t *testing.T, c *Core, shares [][]byte) {
	t.Helper()
	ctx := context.Background()
	var st SealStatus
	var err error
	for _, sh := range shares {
		if st, err = c.UnsealMigrate(ctx, sh); err != nil {
			t.Fatalf("unseal -migrate: %v", err)
		}
	}
	if st.Sealed || st.Migration {
		t.Fatalf("after the quorum: %+v, want unsealed and no migration", st)
	}
}

func TestSealMigrationDirections(t *testing.T) {
	ctx := context.Background()
	shamirSeal := sealOrDefault(nil)
	autoA := namedAuto{newAutoSeal(t), "auto-a"}
	autoB := namedAuto{newAutoSeal(t), "auto-b"}

	f := newMigrationFixture(t, inmem.New(), shamirSeal)
	steps := []struct {
		name     string
		from, to seal.Seal
	}{
		{"shamir to auto", shamirSeal, autoA},
		{"auto to auto", autoA, autoB},
		{"auto to shamir", autoB, shamirSeal},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			c := newMigratingCore(f.st, step.from, step.to)
			if err := c.CheckSeal(ctx); err != nil {
				t.Fatalf("check in migration mode: %v", err)
			}
			st, err := c.SealStatus(ctx)
			if err != nil || !st.Migration || !st.Sealed || st.Threshold != 2 || st.Shares != 3 || st.RecoverySeal != step.from.AutoUnseal() {
				t.Fatalf("seal-status in migration mode: %+v, %v", st, err)
			}
			if _, err := c.Unseal(ctx, f.shares[0]); !errors.Is(err, ErrMigrationRequired) || !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("unseal without -migrate: got %v, want ErrMigrationRequired", err)
			}
			if step.to.AutoUnseal() {
				if err := c.AutoUnseal(ctx); !errors.Is(err, ErrMigrationRequired) {
					t.Fatalf("auto-unseal in migration mode: got %v, want ErrMigrationRequired", err)
				}
			}
			migrate(t, c, f.shares[1:])
			f.checkData(t, c)
			conf := f.storedConf(t)
			if conf.Type != step.to.Type() {
				t.Fatalf("stored seal type %q, want %q", conf.Type, step.to.Type())
			}
			if err := c.Seal(ctx); err != nil {
				t.Fatal(err)
			}

			// Restarted with the disabled block removed: the new seal
			// alone opens it, and the same shares still authorise.
			after := newSealCore(step.to, f.st)
			if err := after.CheckSeal(ctx); err != nil {
				t.Fatal(err)
			}
			if step.to.AutoUnseal() {
				if err := after.AutoUnseal(ctx); err != nil {
					t.Fatalf("auto-unseal with the new seal: %v", err)
				}
				if err := after.checkRecoveryShares(ctx, [][]byte{f.shares[2], f.shares[0]}); err != nil {
					t.Fatalf("the old shares as recovery shares: %v", err)
				}
				if st, _ := after.SealStatus(ctx); st.Shares != 3 || st.Threshold != 2 || !st.RecoverySeal {
					t.Fatalf("recovery split after migration: %+v", st)
				}
			} else {
				for _, sh := range [][]byte{f.shares[0], f.shares[2]} {
					if _, err := after.Unseal(ctx, sh); err != nil {
						t.Fatalf("the recovery shares as unseal shares: %v", err)
					}
				}
			}
			f.checkData(t, after)
			if err := after.Seal(ctx); err != nil {
				t.Fatal(err)
			}

			// Restarted with the disabled block still there: the
			// migration is done, and the server is not in migration mode.
			again := newMigratingCore(f.st, step.from, step.to)
			if st, _ := again.SealStatus(ctx); st.Migration {
				t.Fatalf("migration reported after it finished: %+v", st)
			}
			if _, err := again.UnsealMigrate(ctx, f.shares[0]); !errors.Is(err, ErrNotMigrating) {
				t.Fatalf("a second migration: got %v, want ErrNotMigrating", err)
			}
		})
	}
	if c := newSealCore(shamirSeal, f.st); true {
		wrapped, err := func() ([]byte, error) {
			for _, sh := range f.shares[:2] {
				if _, err := c.Unseal(ctx, sh); err != nil {
					return nil, err
				}
			}
			return c.Unwrap(ctx, f.wrapped)
		}()
		if err != nil || !bytes.Contains(wrapped, []byte("kept")) {
			t.Fatalf("the wrapped response after the round trip: %q, %v", wrapped, err)
		}
	}
}

func TestSealMigrationWrongShares(t *testing.T) {
	ctx := context.Background()
	shamirSeal := sealOrDefault(nil)
	other := newMigrationFixture(t, inmem.New(), shamirSeal)

	t.Run("unseal shares", func(t *testing.T) {
		f := newMigrationFixture(t, inmem.New(), shamirSeal)
		c := newMigratingCore(f.st, shamirSeal, newAutoSeal(t))
		if _, err := c.UnsealMigrate(ctx, other.shares[0]); err != nil {
			t.Fatal(err)
		}
		st, err := c.UnsealMigrate(ctx, other.shares[1])
		if !errors.Is(err, ErrUnsealFailed) || st.Progress != 0 || !st.Sealed {
			t.Fatalf("another server's shares: got %+v, %v; want ErrUnsealFailed with progress reset", st, err)
		}
		if conf := f.storedConf(t); conf.Type != "shamir" {
			t.Fatalf("stored seal %q after refused shares, want shamir", conf.Type)
		}
		migrate(t, c, f.shares[:2])
		f.checkData(t, c)
	})
	t.Run("recovery shares", func(t *testing.T) {
		a := newAutoSeal(t)
		f := newMigrationFixture(t, inmem.New(), a)
		c := newMigratingCore(f.st, a, shamirSeal)
		if _, err := c.UnsealMigrate(ctx, other.shares[0]); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UnsealMigrate(ctx, other.shares[1]); !errors.Is(err, ErrRecoveryKeyMismatch) {
			t.Fatalf("another server's shares as recovery shares: got %v, want ErrRecoveryKeyMismatch", err)
		}
		migrate(t, c, f.shares[1:])
		f.checkData(t, c)
	})
}

// failingPuts refuses Puts of one key while fail is set.
type failingPuts struct {
	storage.Backend
	key  string
	fail atomic.Bool
}

var errPutRefused = errors.New("put refused by the test")

func (s *failingPuts) Put(ctx context.Context, e *storage.Entry) error {
	if s.fail.Load() && e.Key == s.key {
		return errPutRefused
	}
	return s.Backend.Put(ctx, e)
}

// TestInterruptedSealMigration: a migration whose one Put of the seal
// configuration fails leaves the old configuration whole: the old seal
// alone still unseals, the data intact, and the migration can be done
// again.
func TestInterruptedSealMigration(t *testing.T) {
	ctx := context.Background()
	shamirSeal := sealOrDefault(nil)
	st := &failingPuts{Backend: inmem.New(), key: sealconf.Path}
	f := newMigrationFixture(t, st, shamirSeal)
	st.fail.Store(true)
	c := newMigratingCore(st, shamirSeal, newAutoSeal(t))
	if _, err := c.UnsealMigrate(ctx, f.shares[0]); err != nil {
		t.Fatal(err)
	}
	status, err := c.UnsealMigrate(ctx, f.shares[1])
	if !errors.Is(err, errPutRefused) || !status.Sealed {
		t.Fatalf("migration with a failing Put: got %+v, %v; want sealed and the Put's error", status, err)
	}
	st.fail.Store(false)

	old := newSealCore(shamirSeal, st)
	if err := old.CheckSeal(ctx); err != nil {
		t.Fatalf("the old seal after an interrupted migration: %v", err)
	}
	for _, sh := range f.shares[1:] {
		if _, err := old.Unseal(ctx, sh); err != nil {
			t.Fatalf("unsealing with the old seal after an interrupted migration: %v", err)
		}
	}
	f.checkData(t, old)
	if err := old.Seal(ctx); err != nil {
		t.Fatal(err)
	}
	retry := newMigratingCore(st, shamirSeal, newAutoSeal(t))
	migrate(t, retry, f.shares[:2])
	f.checkData(t, retry)
}

func TestSealMigrationRefusals(t *testing.T) {
	ctx := context.Background()
	shamirSeal := sealOrDefault(nil)

	t.Run("no migration configured", func(t *testing.T) {
		f := newMigrationFixture(t, inmem.New(), shamirSeal)
		c := newSealCore(shamirSeal, f.st)
		if st, _ := c.SealStatus(ctx); st.Migration {
			t.Fatalf("migration reported without a disabled seal: %+v", st)
		}
		if _, err := c.UnsealMigrate(ctx, f.shares[0]); !errors.Is(err, ErrNotMigrating) || !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("got %v, want ErrNotMigrating", err)
		}
	})
	t.Run("init in migration mode", func(t *testing.T) {
		c := newMigratingCore(inmem.New(), shamirSeal, newAutoSeal(t))
		if _, err := c.InitWith(ctx, InitParams{RecoveryShares: 1, RecoveryThreshold: 1}); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("got %v, want ErrInvalidRequest", err)
		}
	})
	t.Run("seals of one type", func(t *testing.T) {
		f := newMigrationFixture(t, inmem.New(), shamirSeal)
		if err := newMigratingCore(f.st, shamirSeal, sealOrDefault(nil)).CheckSeal(ctx); err == nil {
			t.Fatal("check with two shamir seals: got nil, want an error")
		}
	})
	t.Run("storage of a third seal", func(t *testing.T) {
		st := inmem.New()
		if _, err := newSealCore(&xorSeal{}, st).Init(ctx, 2, 2); err != nil {
			t.Fatal(err)
		}
		var me *SealMismatchError
		if err := newMigratingCore(st, shamirSeal, newAutoSeal(t)).CheckSeal(ctx); !errors.As(err, &me) {
			t.Fatalf("got %v, want a SealMismatchError", err)
		}
	})
	t.Run("a seal whose shares cannot become recovery shares", func(t *testing.T) {
		xs := &xorSeal{}
		st := inmem.New()
		res, err := newSealCore(xs, st).Init(ctx, 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		c := newMigratingCore(st, xs, newAutoSeal(t))
		if _, err := c.UnsealMigrate(ctx, res.Shares[0]); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("got %v, want ErrInvalidRequest", err)
		}
	})
	t.Run("an auto seal without recovery shares", func(t *testing.T) {
		a := newAutoSeal(t)
		st := inmem.New()
		if _, err := newSealCore(a, st).InitWith(ctx, InitParams{}); err != nil {
			t.Fatal(err)
		}
		c := newMigratingCore(st, a, shamirSeal)
		if _, err := c.UnsealMigrate(ctx, make([]byte, barrier.KeySize)); !errors.Is(err, ErrInvalidRequest) {
			t.Fatalf("got %v, want ErrInvalidRequest", err)
		}
	})
}
