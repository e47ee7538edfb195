package ftpd

import (
	"context"
	"errors"
	"net/netip"

	"github.com/jelastic/jelastic-ftp/users/perm"
)

// Account is what a successful login grants: a session for Name, confined
// to the directory Home.
type Account struct {
	Name        string
	Home        string
	Permissions perm.Set // the zero value holds every permission
	MaxSessions int      // sessions of this user at once; 0: no limit of its own
}

// ErrBadLogin is the error an Authenticator returns for an unknown user or
// a wrong password, without saying which. The server answers it with 530
// after Settings.FailedLoginDelay; any other error closes the session with
// 421, as the password check itself is then out of order.
var ErrBadLogin = errors.New("login incorrect")

// Authenticator checks a user's password. The server never reads account
// databases itself: in production the Authenticator asks the privileged
// monitor, which may also throttle or ban client addresses. LoginOverTLS(ctx)
// tells whether the login came over TLS.
type Authenticator interface {
	Authenticate(ctx context.Context, user, password string, client netip.Addr) (Account, error)
}

type overTLSKey struct{}

// LoginOverTLS tells an Authenticator whether the login it checks came over a
// TLS control connection (for the record of last logins: "ftps" or "ftp").
func LoginOverTLS(ctx context.Context) bool {
	on, _ := ctx.Value(overTLSKey{}).(bool)
	return on
}
