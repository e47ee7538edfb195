package agent

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/monitor"
	"github.com/jelastic/jelastic-ftp/sudoers"
)

// Report is everything `ftpctl status` shows; Problems lists what is broken.
type Report struct {
	ConfigPath string                 `json:"config"`
	Running    bool                   `json:"running"`
	Systemd    string                 `json:"systemd,omitempty"` // the unit's state where systemd runs
	Socket     string                 `json:"socket,omitempty"`  // jelastic-ftp.socket's; "active": systemd starts the service on a connection
	Service    *monitor.ServiceStatus `json:"service,omitempty"`
	// Owner may change FTP passwords with sudo ("" = none found), for OwnerReason.
	Owner       string        `json:"owner"`
	OwnerReason string        `json:"owner_reason"`
	Users       []UserInfo    `json:"users"`
	Accounts    AccountCounts `json:"accounts"`
	Grants      []Grant       `json:"grants"`
	Warnings    []string      `json:"warnings"`
	Problems    []string      `json:"problems"`
}

// AccountCounts sums up the FTP accounts by what keeps them from logging in.
type AccountCounts struct {
	Total           int `json:"total"`
	Disabled        int `json:"disabled"`
	Expired         int `json:"expired"`
	PasswordAgedOut int `json:"password_aged_out"`
}

// countAccounts counts list at now; an account can be in several counts.
func countAccounts(list []UserInfo, now time.Time) AccountCounts {
	c := AccountCounts{Total: len(list)}
	for _, u := range list {
		if u.Disabled {
			c.Disabled++
		}
		if u.Expired(now) {
			c.Expired++
		}
		if u.PasswordAgedOut(now) {
			c.PasswordAgedOut++
		}
	}
	return c
}

// Grant is one sudo rule of ours: Owner may run Command (with its argument).
type Grant struct {
	Owner   string `json:"owner"`
	User    string `json:"user"`
	Command string `json:"command"`
}

// Grants lists the rules of the drop-in; never nil.
func Grants(d sudoers.DropIn) ([]Grant, error) {
	gs, err := d.Grants()
	if err != nil {
		return nil, err
	}
	out := []Grant{}
	for _, g := range gs {
		out = append(out, Grant{Owner: g.Owner, User: g.User, Command: g.Command + " " + g.User})
	}
	return out, nil
}

// certWarnAhead is how early an expiring certificate is reported.
const certWarnAhead = 14 * 24 * time.Hour

// Status inspects the configuration, the running service, the accounts and the
// sudo rules. It never fails as a whole: what it cannot check becomes a problem.
func (a *Admin) Status() Report {
	r := Report{ConfigPath: a.ConfigPath, Users: []UserInfo{}, Grants: []Grant{}, Warnings: []string{}, Problems: []string{}}
	cfg, cfgErr := config.Load(a.ConfigPath)
	if cfgErr != nil {
		r.Problems = append(r.Problems, cfgErr.Error())
	}
	if systemdRuns() {
		r.Systemd = unitState(ServiceName + ".service")
		r.Socket = unitState(socketUnit)
	}
	if st, err := monitor.QueryStatus(3 * time.Second); err != nil {
		if problem := notRunning(err, r.Socket); problem != "" {
			r.Problems = append(r.Problems, problem)
		}
	} else {
		r.Running, r.Service = true, &st
		if st.PublicHost != "" && st.PublicAddr == "" {
			r.Warnings = append(r.Warnings, fmt.Sprintf("public_host %s did not resolve when the service last loaded its settings, so passive-mode replies announce the address each client connected to (see its log)", st.PublicHost))
		}
		if left := time.Until(st.Certificate.NotAfter); left <= 0 {
			r.Problems = append(r.Problems, fmt.Sprintf("the TLS certificate expired on %s", st.Certificate.NotAfter.Format(time.DateOnly)))
		} else if left < certWarnAhead {
			r.Warnings = append(r.Warnings, fmt.Sprintf("the TLS certificate expires on %s", st.Certificate.NotAfter.Format(time.DateOnly)))
		}
	}
	if users, err := a.ListUsers(); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else if len(users) == 0 {
		r.Problems = append(r.Problems, "there is no FTP account; create one with ftpctl user add")
	} else {
		r.Users, r.Accounts = users, countAccounts(users, a.Now())
	}
	if grants, err := Grants(a.Sudoers); err != nil {
		r.Problems = append(r.Problems, err.Error())
	} else {
		r.Grants = grants
	}
	if cfgErr == nil {
		if choice, err := a.ChooseOwner(cfg.Owner); err != nil {
			r.Warnings = append(r.Warnings, err.Error())
		} else if r.Owner, r.OwnerReason = choice.Owner, choice.Reason; choice.Owner == "" {
			r.Warnings = append(r.Warnings, "no owner may change FTP passwords with sudo: "+choice.Reason)
		} else {
			r.Warnings = append(r.Warnings, a.sudoCheck(choice.Owner).Warnings...)
		}
		if w := passiveRangeWarning(cfg); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}
	return r
}

// passiveRangeWarning says when the passive ports are fewer than the sessions allowed:
// each transfer in passive mode holds a port until its data connection is made, so a
// few clients can then take every port and the others' transfers fail.
func passiveRangeWarning(cfg config.Config) string {
	ports := cfg.PassivePorts.Last - cfg.PassivePorts.First + 1
	if ports >= cfg.Limits.MaxSessions {
		return ""
	}
	return fmt.Sprintf("passive_ports %s has %d ports, fewer than max_sessions (%d): a few clients can hold every port and the others' transfers fail; widen passive_ports or lower max_sessions",
		cfg.PassivePorts, ports, cfg.Limits.MaxSessions)
}

// notRunning is the problem to report when the service does not answer, or ""
// when that is as it should be: under socket activation with idle_exit the
// service is stopped between connections while systemd holds the port.
func notRunning(err error, socket string) string {
	if socket == "active" {
		return ""
	}
	return "the FTP service is not running: " + err.Error()
}

// unitState is `systemctl is-active UNIT`: "active", "inactive", "failed", ….
func unitState(unit string) string {
	out, _ := exec.Command("systemctl", "is-active", unit).Output()
	return strings.TrimSpace(string(out))
}

// systemdRuns reports whether systemd is the init system, as sd_booted(3) decides.
func systemdRuns() bool {
	fi, err := os.Lstat("/run/systemd/system")
	return err == nil && fi.IsDir()
}
