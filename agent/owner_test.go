package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChooseOwner(t *testing.T) {
	const (
		root    = "root:x:0:0:root:/root:/bin/bash\n"
		ftp     = "jelastic-ftp:x:700:701::/var/www/webroot:/usr/sbin/nologin\n"
		apache  = "apache:x:700:700::/var/www:/bin/bash\n"
		ssh     = "ssh-user:x:700:700::/home/ssh-user:/bin/bash\n"
		ftpGrp  = "jelastic-ftp:x:701:\n"
		sshGrp  = "ssh-access:x:1001:apache\n"
		jelUser = "jelastic:x:1000:1000::/home/jelastic:/bin/bash\n"
	)
	cases := []struct {
		name, configured, passwd, group string
		noGroupFile                     bool
		want                            string // "" = none found
		reason                          string // part of the reason
	}{
		{name: "configured account", configured: "webadmin", passwd: root, want: "webadmin", reason: "set in"},
		{name: "configured group", configured: "%wheel", passwd: root, want: "%wheel", reason: "set in"},
		{name: "group ssh-access", passwd: root + jelUser + apache, group: ftpGrp + sshGrp, want: "%ssh-access", reason: "the group ssh-access"},
		{name: "only jelastic", passwd: root + apache + jelUser, group: ftpGrp, want: "jelastic", reason: "the account jelastic exists"},
		{name: "data owner after the FTP user", passwd: root + ftp + apache + ssh, group: ftpGrp, want: "apache", reason: "apache is the first account with UID 700"},
		{name: "no group file", passwd: root + apache, noGroupFile: true, want: "apache", reason: "(the stack's data owner)"},
		{name: "only FTP users", passwd: root + ftp, group: ftpGrp, reason: "there is no group ssh-access, no account jelastic"},
		{name: "nothing", passwd: root, group: "root:x:0:\n", reason: "give ftpctl install --owner"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			etc := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(etc, "passwd"), []byte(tc.passwd), 0o644))
			if !tc.noGroupFile {
				require.NoError(t, os.WriteFile(filepath.Join(etc, "group"), []byte(tc.group), 0o644))
			}
			a := &Admin{Etc: etc, ConfigPath: "/etc/jelastic-ftp/ftpd.toml"}
			got, err := a.ChooseOwner(tc.configured)
			require.NoError(t, err)
			require.Equal(t, tc.want, got.Owner)
			require.Contains(t, got.Reason, tc.reason)
		})
	}

	t.Run("passwd unreadable", func(t *testing.T) {
		a := &Admin{Etc: t.TempDir()}
		_, err := a.ChooseOwner("")
		require.ErrorContains(t, err, "passwd")
	})
}
