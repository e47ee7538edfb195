package agent

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDetectRoot(t *testing.T) {
	cases := []struct {
		name       string
		dirs       []string // created under the fake file system root
		files      []string // created as plain files
		wantPath   string
		wantCreate bool
		wantReason string // a part of the reason
	}{
		{"empty node", nil, nil, FallbackRoot, true, "no known web root"},
		{"fallback already there", []string{"/var/ftp/webroot"}, nil, FallbackRoot, false, "no known web root"},
		{"nginx-php", []string{"/var/www/webroot/ROOT"}, nil, "/var/www/webroot/ROOT", false, "Apache or NGINX"},
		{"webroot without ROOT", []string{"/var/www/webroot"}, nil, "/var/www/webroot", false, "no ROOT context"},
		{"nodejs", []string{"/home/jelastic/ROOT"}, nil, "/home/jelastic/ROOT", false, "Node.js"},
		{"tomcat", []string{"/opt/tomcat/webapps/ROOT"}, nil, "/opt/tomcat/webapps", false, "Tomcat"},
		{"jetty", []string{"/opt/jetty/webapps"}, nil, "/opt/jetty/webapps", false, "Jetty"},
		{"glassfish", []string{"/opt/glassfish/glassfish/domains/domain1/autodeploy"}, nil, "/opt/glassfish/glassfish/domains/domain1/autodeploy", false, "GlassFish"},
		{"payara", []string{"/opt/payara/glassfish/domains/domain1/autodeploy"}, nil, "/opt/payara/glassfish/domains/domain1/autodeploy", false, "Payara"},
		{"wildfly", []string{"/opt/wildfly/standalone/deployments"}, nil, "/opt/wildfly/standalone/deployments", false, "WildFly"},
		{"mysql without backup folder", []string{"/var/lib/mysql"}, nil, "/var/lib/jelastic/backup", true, "database"},
		{"postgres with backup folder", []string{"/var/lib/pgsql/data", "/var/lib/jelastic/backup"}, nil, "/var/lib/jelastic/backup", false, "database"},
		{"backup folder alone is no database", []string{"/var/lib/jelastic/backup"}, nil, FallbackRoot, true, "no known web root"},
		{"ROOT context beats its parent", []string{"/var/www/webroot/ROOT", "/var/lib/mysql"}, nil, "/var/www/webroot/ROOT", false, "Apache"},
		{"a file is not a web root", nil, []string{"/var/www/webroot/ROOT"}, "/var/www/webroot", false, "no ROOT context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsRoot := t.TempDir()
			for _, d := range tc.dirs {
				require.NoError(t, os.MkdirAll(filepath.Join(fsRoot, d), 0o755))
			}
			for _, f := range tc.files {
				require.NoError(t, os.MkdirAll(filepath.Join(fsRoot, filepath.Dir(f)), 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(fsRoot, f), nil, 0o644))
			}
			got := DetectRoot(fsRoot)
			require.Equal(t, tc.wantPath, got.Path)
			require.Equal(t, tc.wantCreate, got.Create)
			require.Contains(t, got.Reason, tc.wantReason)
		})
	}
}
