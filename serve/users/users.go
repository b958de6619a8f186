// Package users keeps the service's users in one JSON file: name, role,
// county, the SHA-256 digest of the API token and the bcrypt hash of the
// password. Neither secret is stored in clear. The file is rewritten
// whole under a lock (FILE.lock) through a temporary file and a rename, so
// a reader sees the old or the new file and two writers (the service and
// `hedui user`) never lose each other's changes.
package users

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Role says what a user may do.
type Role string

// The roles. Only intake and reviewer see persons (full ID numbers).
const (
	Intake   Role = "intake"   // runs checks and sees their own
	Reviewer Role = "reviewer" // sees every check of their county
	Analyst  Role = "analyst"  // aggregate counts only, never a person
	Admin    Role = "admin"    // manages users and applies index updates
)

// Roles lists the roles in the order help texts show them.
var Roles = []Role{Intake, Reviewer, Analyst, Admin}

// SeesPersons reports whether the role may see full ID numbers and names.
func (r Role) SeesPersons() bool { return r == Intake || r == Reviewer }

// ParseRole checks a role word.
func ParseRole(s string) (Role, error) {
	if slices.Contains(Roles, Role(s)) {
		return Role(s), nil
	}
	return "", fmt.Errorf("role %q; allowed: intake, reviewer, analyst, admin", s)
}

// User is one entry of the users file.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Region is the county code (or a prefix of it: a city, a province)
	// whose checks a reviewer sees; empty for other roles.
	Region       string    `json:"region,omitempty"`
	TokenHash    string    `json:"token_hash"`              // hex SHA-256 of the API token
	PasswordHash string    `json:"password_hash,omitempty"` // bcrypt; empty: no web login
	Created      time.Time `json:"created"`
}

// File is the users file as loaded.
type File struct {
	Version int    `json:"version"`
	Users   []User `json:"users"`
}

const fileVersion = 1

// BcryptCost is the bcrypt cost of stored passwords.
const BcryptCost = 11

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// Load reads the users file; a missing file is an empty one.
func Load(path string) (*File, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &File{Version: fileVersion}, nil
	}
	if err != nil {
		return nil, err
	}
	f := &File{}
	if err := json.Unmarshal(b, f); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("users file %s: version %d; this hedui reads version %d", path, f.Version, fileVersion)
	}
	for i, u := range f.Users {
		if _, err := ParseRole(string(u.Role)); err != nil {
			return nil, fmt.Errorf("users file %s: user %d (%q): %w", path, i+1, u.Name, err)
		}
	}
	return f, nil
}

// Find returns the user called name, or nil.
func (f *File) Find(name string) *User {
	for i := range f.Users {
		if f.Users[i].Name == name {
			return &f.Users[i]
		}
	}
	return nil
}

// ByToken returns the user whose API token is token, or nil.
func (f *File) ByToken(token string) *User {
	h := HashToken(token)
	for i := range f.Users {
		if subtle.ConstantTimeCompare([]byte(f.Users[i].TokenHash), []byte(h)) == 1 {
			return &f.Users[i]
		}
	}
	return nil
}

// HashToken is the stored form of an API token.
func HashToken(token string) string {
	s := sha256.Sum256([]byte(token))
	return hex.EncodeToString(s[:])
}

// NewToken returns a fresh random API token (256 bits).
func NewToken() string {
	var b [32]byte
	rand.Read(b[:])
	return "hd_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// dummyHash is compared against when a login names no user, so that a
// wrong name takes as long as a wrong password. It is made on first use,
// not at start-up: a bcrypt hash costs about 0.2 s, which every hedui
// command paid whether it checked a password or not. (The first login
// without a user then pays for the hash besides the comparison, once.)
var dummyHash = sync.OnceValue(func() []byte {
	// It fails only for a cost out of range or a password over 72 bytes.
	h, _ := bcrypt.GenerateFromPassword([]byte("not a password"), BcryptCost)
	return h
})

// WarmUp makes the hash a login without a user is compared against, so that
// even the first such login takes as long as a wrong password. The service
// calls it at start; other commands never pay for it.
func WarmUp() { dummyHash() }

// CheckPassword returns the user if name and password match.
func (f *File) CheckPassword(name, password string) (*User, bool) {
	u := f.Find(name)
	if u == nil || u.PasswordHash == "" {
		bcrypt.CompareHashAndPassword(dummyHash(), []byte(password))
		return nil, false
	}
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(password)) != nil {
		return nil, false
	}
	return u, true
}

// Add creates a user and returns its API token, the only time it exists in
// clear. A reviewer needs the county (region) whose checks they see.
func Add(path, name string, role Role, region string, now time.Time) (string, error) {
	if !namePattern.MatchString(name) {
		return "", fmt.Errorf("user name %q: want 1 to 64 letters, digits, '_', '.' or '-'", name)
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", err
	}
	if role == Reviewer && region == "" {
		return "", fmt.Errorf("a reviewer needs --region: the county code whose checks they see")
	}
	if region != "" && !regexp.MustCompile(`^[0-9]{2,6}$`).MatchString(region) {
		return "", fmt.Errorf("region %q: want a county code of 2 to 6 digits (province, city or county)", region)
	}
	token := NewToken()
	err := Edit(path, func(f *File) error {
		if f.Find(name) != nil {
			return fmt.Errorf("user %q already exists", name)
		}
		f.Users = append(f.Users, User{Name: name, Role: role, Region: region, TokenHash: HashToken(token), Created: now.UTC()})
		return nil
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// SetPassword sets (or replaces) a user's web password.
func SetPassword(path, name, password string) error {
	if len(password) < 10 {
		return fmt.Errorf("password too short: want at least 10 characters")
	}
	if len(password) > 72 {
		return fmt.Errorf("password too long: bcrypt reads at most 72 bytes")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		return err
	}
	return Edit(path, func(f *File) error {
		u := f.Find(name)
		if u == nil {
			return fmt.Errorf("no user %q in %s", name, path)
		}
		u.PasswordHash = string(h)
		return nil
	})
}

// Edit reads the users file under its lock, applies fn and writes it back
// atomically (temporary file, fsync, rename), readable by its owner only.
func Edit(path string, fn func(*File) error) error {
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	f, err := Load(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
