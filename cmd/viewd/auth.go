package main

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/coord"
	"github.com/viewd/viewd/wire"
)

// coordAuth is the wire layer's Authenticator over the coordinator's
// roles.
type coordAuth struct{ c *coord.Coordinator }

var _ wire.Authenticator = coordAuth{}

// LookupLogin implements wire.Authenticator.
func (a coordAuth) LookupLogin(ctx context.Context, user string) (wire.LoginInfo, error) {
	l, err := a.c.LoginRole(user)
	if err != nil {
		return wire.LoginInfo{}, fmt.Errorf("viewd: look up role %q: %w", user, err)
	}
	return wire.LoginInfo{Exists: l.Exists, CanLogin: l.CanLogin, Superuser: l.Superuser, Verifier: l.Verifier}, nil
}

// newAuthenticator returns the Authenticator of c's roles, for either
// mode.
func newAuthenticator(c *coord.Coordinator, _ wire.AuthMode) (wire.Authenticator, error) {
	return coordAuth{c}, nil
}
