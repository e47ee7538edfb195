package agent

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/monitor"
)

// UnbanRequest reads `ftpctl unban`'s arguments: sources (each an address or a ban
// source, as admission.ParseSource takes them; repeats count once), or all alone.
// The error names the first bad argument, before anything is asked of the service.
func UnbanRequest(args []string, all bool) (privsep.Unban, error) {
	switch {
	case all && len(args) > 0:
		return privsep.Unban{}, fmt.Errorf("--all lifts every ban: give it no source (got %s)", args[0])
	case all:
		return privsep.Unban{All: true}, nil
	case len(args) == 0:
		return privsep.Unban{}, errors.New("name the addresses or sources to unban, or give --all")
	case len(args) > privsep.MaxBansPerMessage:
		return privsep.Unban{}, fmt.Errorf("at most %d sources at once (got %d); run ftpctl unban again for the rest, or give --all", privsep.MaxBansPerMessage, len(args))
	}
	u := privsep.Unban{Sources: make([]netip.Prefix, 0, len(args))}
	seen := make(map[netip.Prefix]bool, len(args))
	for _, arg := range args {
		src, err := admission.ParseSource(arg)
		if err != nil {
			return privsep.Unban{}, err
		}
		if !seen[src] {
			seen[src] = true
			u.Sources = append(u.Sources, src)
		}
	}
	return u, nil
}

// Unban has the running service lift the bans u names. With no service running
// nothing is lifted: the bans it saved come back when it starts.
func (a *Admin) Unban(u privsep.Unban) (monitor.UnbanReply, error) {
	reply, err := monitor.UnbanAt(a.ControlSocket, u, sessionsTimeout)
	if errors.Is(err, monitor.ErrNotRunning) {
		var dial *net.OpError
		if errors.As(err, &dial) {
			err = dial
		}
		return reply, fmt.Errorf("the service is not running, so no ban can be lifted; it restores the bans it saved when it starts (start it with ftpctl install, then run ftpctl unban again): %w", err)
	}
	return reply, err
}
