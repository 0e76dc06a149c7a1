//go:build !roles

// Interim file for a coordinator without roles (main before the roles
// branch): delete it at the merge, with auth.go's build constraint.

package main

import (
	"errors"

	"github.com/viewd/viewd/coord"
	"github.com/viewd/viewd/wire"
)

// newAuthenticator returns no Authenticator: this coordinator has no
// roles, so trust mode accepts every user name and password mode (which
// needs a role's verifier) cannot start.
func newAuthenticator(_ *coord.Coordinator, mode wire.AuthMode) (wire.Authenticator, error) {
	if mode == wire.AuthPassword {
		return nil, errors.New("--auth-mode password needs roles, which this build of viewd does not have: listen on loopback with --auth-mode trust")
	}
	return nil, nil
}
