package wire

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/viewd/viewd/pgcode"
	"github.com/xdg-go/scram"
)

// codeInvalidPassword is SQLSTATE 28P01 (invalid_password), the code of
// every failed password authentication.
const codeInvalidPassword pgcode.Code = "28P01"

// AuthMode says how a connection proves who it is.
type AuthMode uint8

// Authentication modes.
const (
	// AuthTrust accepts the user the StartupMessage names without a
	// password. With an Authenticator the user must still be an existing
	// role with LOGIN; without one every user name is accepted.
	AuthTrust AuthMode = iota
	// AuthPassword runs a SCRAM-SHA-256 exchange (SCRAM-SHA-256-PLUS with
	// tls-server-end-point channel binding over TLS) against the role's
	// stored verifier. A role without a password can never log in.
	AuthPassword
)

// String returns the mode's flag spelling (trust, password).
func (m AuthMode) String() string {
	if m == AuthPassword {
		return "password"
	}
	return "trust"
}

// ParseAuthMode reads trust or password.
func ParseAuthMode(s string) (AuthMode, error) {
	switch strings.ToLower(s) {
	case "trust":
		return AuthTrust, nil
	case "password":
		return AuthPassword, nil
	}
	return 0, fmt.Errorf("wire: unknown authentication mode %q (want trust or password)", s)
}

// LoginInfo is what the wire layer needs to know about a role to let it
// log in.
type LoginInfo struct {
	// Exists reports that the role exists; the other fields are zero when
	// it does not.
	Exists bool
	// CanLogin is the role's LOGIN attribute.
	CanLogin bool
	// Superuser is reported to the client as is_superuser.
	Superuser bool
	// Verifier is the role's password in PostgreSQL's text form
	// "SCRAM-SHA-256$<iterations>:<salt base64>$<StoredKey base64>:<ServerKey base64>",
	// or "" when the role has no password.
	Verifier string
}

// Authenticator looks up roles for authentication: the backend's side of
// login, declared here so that wire needs no import of the coordinator.
type Authenticator interface {
	// LookupLogin returns what is known of the role named user. A role
	// that does not exist is LoginInfo{Exists: false} with a nil error; an
	// error is sent to the client as a FATAL and ends the connection.
	LookupLogin(ctx context.Context, user string) (LoginInfo, error)
}

// SCRAM mechanism names as PostgreSQL announces them.
const (
	mechSCRAM     = "SCRAM-SHA-256"
	mechSCRAMPlus = "SCRAM-SHA-256-PLUS"
)

// mockIterations is the iteration count shown to a client whose role
// cannot log in by password (PostgreSQL's default scram_iterations).
const mockIterations = 4096

// ParseSCRAMVerifier reads PostgreSQL's text form of a SCRAM-SHA-256
// verifier into the stored credentials the SCRAM server checks against.
func ParseSCRAMVerifier(v string) (scram.StoredCredentials, error) {
	bad := func(why string) (scram.StoredCredentials, error) {
		return scram.StoredCredentials{}, fmt.Errorf("wire: malformed SCRAM-SHA-256 verifier: %s", why)
	}
	rest, ok := strings.CutPrefix(v, "SCRAM-SHA-256$")
	if !ok {
		return bad("it does not start with SCRAM-SHA-256$")
	}
	factors, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return bad("no $ between the salt and the keys")
	}
	iterText, saltText, ok := strings.Cut(factors, ":")
	if !ok {
		return bad("no : between the iteration count and the salt")
	}
	iters, err := strconv.Atoi(iterText)
	if err != nil || iters <= 0 {
		return bad("bad iteration count")
	}
	salt, err := base64.StdEncoding.DecodeString(saltText)
	if err != nil || len(salt) == 0 {
		return bad("bad salt")
	}
	storedText, serverText, ok := strings.Cut(keys, ":")
	if !ok {
		return bad("no : between StoredKey and ServerKey")
	}
	stored, err1 := base64.StdEncoding.DecodeString(storedText)
	server, err2 := base64.StdEncoding.DecodeString(serverText)
	if err1 != nil || err2 != nil || len(stored) != sha256.Size || len(server) != sha256.Size {
		return bad("bad StoredKey or ServerKey")
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: iters},
		StoredKey:  stored,
		ServerKey:  server,
	}, nil
}

// FormatSCRAMVerifier is the inverse of ParseSCRAMVerifier.
func FormatSCRAMVerifier(c scram.StoredCredentials) string {
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", c.Iters, b64([]byte(c.Salt)), b64(c.StoredKey), b64(c.ServerKey))
}

// mockCredentials are shown to a client whose role does not exist or has
// no password, so that the exchange looks like a real one and fails only
// at the proof, as in PostgreSQL: the salt is derived from the user name
// and a per-server secret (the same user always sees the same salt), the
// keys are random (no proof matches them).
func (s *Server) mockCredentials(user string) scram.StoredCredentials {
	mac := hmac.New(sha256.New, s.mockSecret[:])
	mac.Write([]byte(user))
	salt := mac.Sum(nil)[:16]
	stored, server := make([]byte, sha256.Size), make([]byte, sha256.Size)
	_, _ = rand.Read(stored) // crypto/rand never fails on supported platforms
	_, _ = rand.Read(server)
	return scram.StoredCredentials{KeyFactors: scram.KeyFactors{Salt: string(salt), Iters: mockIterations}, StoredKey: stored, ServerKey: server}
}

// authFailed is the FATAL a failed password authentication ends with.
// The same message whether the role exists, has a password or sent a
// wrong proof: PostgreSQL does not reveal which.
func authFailed(user string) *pgcode.Error {
	return pgcode.New(codeInvalidPassword, "password authentication failed for user %q", user)
}

func roleMissing(user string) *pgcode.Error {
	return pgcode.New(pgcode.InvalidAuthorizationSpec, "role %q does not exist", user)
}

func roleNoLogin(user string) *pgcode.Error {
	return pgcode.New(pgcode.InvalidAuthorizationSpec, "role %q is not permitted to log in", user)
}

// errAuthFailed ends authenticate with the FATAL already sent.
var errAuthFailed = errors.New("wire: authentication failed")

// authenticate runs the server's authentication for user: trust or a
// SCRAM exchange, then the role checks. On success it sends
// AuthenticationOk and returns what is known of the role (Superuser true
// when there is no Authenticator). On failure it sends a FATAL and
// returns an error.
func (c *conn) authenticate(user string) (LoginInfo, error) {
	s := c.srv
	if s.auth == nil {
		if s.authMode == AuthPassword {
			// Serve refuses this configuration; never let it through.
			c.sendFatal(pgcode.New(pgcode.InternalError, "password authentication configured without an authenticator"))
			return LoginInfo{}, errAuthFailed
		}
		c.be.Send(&pgproto3.AuthenticationOk{})
		return LoginInfo{Exists: true, CanLogin: true, Superuser: true}, nil
	}
	info, err := s.auth.LookupLogin(c.ctx, user)
	if err != nil {
		c.log.Error("wire: role lookup failed", "err", err)
		c.sendFatal(pgcode.As(err))
		return LoginInfo{}, fmt.Errorf("wire: look up role %q: %w", user, err)
	}
	if s.authMode == AuthPassword {
		if err := c.scramExchange(user, info); err != nil {
			return LoginInfo{}, err
		}
	} else if !info.Exists {
		c.sendFatal(roleMissing(user))
		return LoginInfo{}, errAuthFailed
	}
	// As in PostgreSQL, LOGIN is checked once the client has proved who
	// it is.
	if !info.CanLogin {
		c.sendFatal(roleNoLogin(user))
		return LoginInfo{}, errAuthFailed
	}
	c.be.Send(&pgproto3.AuthenticationOk{})
	return info, nil
}

// scramExchange runs SASL with SCRAM-SHA-256 (and -PLUS over TLS when the
// certificate's binding data is known) against info's verifier; a role
// that does not exist or has no password gets mock credentials, so its
// exchange fails at the proof like a wrong password. It sends
// AuthenticationSASLFinal on success and a FATAL on failure.
func (c *conn) scramExchange(user string, info LoginInfo) error {
	fail := func(e *pgcode.Error, why string, args ...any) error {
		c.log.Info("wire: password authentication failed", append([]any{"user", user, "reason", why}, args...)...)
		c.sendFatal(e)
		return errAuthFailed
	}
	creds, real := c.srv.mockCredentials(user), false
	reason := "no password assigned"
	switch {
	case !info.Exists:
		reason = "role does not exist"
	case info.Verifier != "":
		if parsed, err := ParseSCRAMVerifier(info.Verifier); err != nil {
			c.log.Error("wire: role's password verifier is unusable", "err", err)
			reason = "unusable verifier"
		} else {
			creds, real = parsed, true
		}
	}
	srv, err := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) {
		// PostgreSQL ignores the SCRAM user name (libpq sends none): the
		// role is the StartupMessage's.
		return creds, nil
	})
	if err != nil {
		return fail(pgcode.New(pgcode.InternalError, "SCRAM server: %v", err), "scram setup")
	}
	mechs := []string{mechSCRAM}
	var conv *scram.ServerConversation
	if cb, ok := c.channelBinding(); ok {
		mechs = []string{mechSCRAMPlus, mechSCRAM}
		conv = srv.NewConversationWithChannelBinding(cb)
	} else {
		conv = srv.NewConversation()
	}
	c.be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: mechs})
	if err := c.flush(); err != nil {
		return err
	}

	c.be.SetAuthType(pgproto3.AuthTypeSASL)
	msg, err := c.receiveAuth()
	if err != nil {
		return err
	}
	init, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return fail(pgcode.New(pgcode.ProtocolViolation, "expected SASL response, got message type %T", msg), "protocol")
	}
	if !slices.Contains(mechs, init.AuthMechanism) {
		return fail(pgcode.New(pgcode.ProtocolViolation, "client selected an invalid SASL authentication mechanism"), "mechanism", "mechanism", init.AuthMechanism)
	}
	// The mechanism and the GS2 channel binding flag must agree.
	flagP := strings.HasPrefix(string(init.Data), "p=")
	if init.AuthMechanism == mechSCRAMPlus && !flagP {
		return fail(malformedSCRAM("The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data."), "channel binding flag")
	}
	if init.AuthMechanism == mechSCRAM && flagP {
		return fail(malformedSCRAM("The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data."), "channel binding flag")
	}
	first, err := conv.Step(string(init.Data))
	if err != nil {
		return fail(scramStepError(first, err), "client-first-message", "err", err)
	}
	c.be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(first)})
	if err := c.flush(); err != nil {
		return err
	}

	c.be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	msg, err = c.receiveAuth()
	if err != nil {
		return err
	}
	resp, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return fail(pgcode.New(pgcode.ProtocolViolation, "expected SASL response, got message type %T", msg), "protocol")
	}
	final, err := conv.Step(string(resp.Data))
	if err != nil {
		if final == scram.ErrInvalidProof {
			if !real {
				return fail(authFailed(user), reason)
			}
			return fail(authFailed(user), "wrong password")
		}
		return fail(scramStepError(final, err), "client-final-message", "err", err)
	}
	if !conv.Valid() || !real {
		// Unreachable with random mock keys; kept so that a role without a
		// usable verifier can never log in.
		return fail(authFailed(user), reason)
	}
	c.be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte(final)})
	return nil
}

// receiveAuth reads one authentication message; a client that goes away
// is errClientGone, a broken message a FATAL.
func (c *conn) receiveAuth() (pgproto3.FrontendMessage, error) {
	msg, err := c.be.Receive()
	if _, ok := msg.(*pgproto3.Terminate); ok && err == nil {
		// A client that gives up (psql without a password) just leaves.
		return nil, errClientGone
	}
	if err == nil {
		return msg, nil
	}
	if c.ctx.Err() != nil || clientGone(err) {
		return nil, errClientGone
	}
	c.sendFatal(pgcode.New(pgcode.ProtocolViolation, "invalid authentication message: %v", err))
	return nil, fmt.Errorf("wire: receive authentication message: %w", err)
}

func malformedSCRAM(detail string) *pgcode.Error {
	e := pgcode.New(pgcode.ProtocolViolation, "malformed SCRAM message")
	e.Detail = detail
	return e
}

// scramStepError maps a SCRAM step failure (the library's server error
// value, "e=...", and its error) to PostgreSQL's messages.
func scramStepError(serverErr string, err error) *pgcode.Error {
	switch serverErr {
	case scram.ErrServerDoesSupportChannelBinding:
		e := pgcode.New(pgcode.ProtocolViolation, "SCRAM channel binding negotiation error")
		e.Detail = "The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding."
		return e
	case scram.ErrChannelBindingNotSupported, scram.ErrUnsupportedChannelBindingType:
		e := pgcode.New(pgcode.ProtocolViolation, "unsupported SCRAM channel-binding type")
		e.Detail = err.Error()
		return e
	case scram.ErrChannelBindingsDontMatch:
		return pgcode.New(pgcode.ProtocolViolation, "SCRAM channel binding check failed")
	}
	return malformedSCRAM(err.Error())
}
