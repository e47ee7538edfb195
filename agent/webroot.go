package agent

import (
	"os"
	"path/filepath"
)

// FallbackRoot is the FTP root on a node where no known stack keeps its files; install
// creates it.
const FallbackRoot = "/var/ftp/webroot"

// webrootRule is one place where a stack of the platform (Jelastic / Virtuozzo
// Application Platform) keeps the files it serves. The paths are the stacks' own: the
// platform's ${SERVER_WEBROOT} placeholder for Apache, NGINX and Node.js, and the
// deployment folder of each Java application server.
type webrootRule struct {
	root string
	// markers show that the stack runs here; with none, root itself must exist, because
	// the stack's image ships it.
	markers []string
	why     string
}

// webrootRules are tried in order; the first that matches wins. The specific ROOT
// contexts come before the folders that merely contain them.
var webrootRules = []webrootRule{
	{root: "/var/www/webroot/ROOT", why: "Apache or NGINX node (PHP, Python, Ruby): the ROOT context the web server serves"},
	{root: "/home/jelastic/ROOT", why: "Node.js node: the application folder"},
	{root: "/opt/tomcat/webapps", why: "Tomcat or TomEE node: its webapps folder, where an uploaded WAR or folder is deployed"},
	{root: "/opt/jetty/webapps", why: "Jetty node: its webapps folder, where an uploaded WAR or folder is deployed"},
	{root: "/opt/glassfish/glassfish/domains/domain1/autodeploy", why: "GlassFish node: the autodeploy folder of domain1"},
	{root: "/opt/payara/glassfish/domains/domain1/autodeploy", why: "Payara node: the autodeploy folder of domain1"},
	{root: "/opt/wildfly/standalone/deployments", why: "WildFly node: its deployments folder"},
	{root: "/var/www/webroot", why: "Apache or NGINX node: the web root (it has no ROOT context yet)"},
	// A database node serves no files; what its owner moves by FTP are dumps, and the
	// platform's ${SERVER_BACKUP} folder is where its backup scripts put them.
	{
		root:    "/var/lib/jelastic/backup",
		markers: []string{"/var/lib/mysql", "/var/lib/pgsql", "/var/lib/postgresql", "/var/lib/mongo", "/var/lib/mongodb", "/var/lib/couchdb"},
		why:     "database node: the platform's backup folder, where database dumps go",
	},
}

// RootChoice is the FTP root install picked, and why.
type RootChoice struct {
	Path   string
	Reason string
	// Create is true when the folder does not exist yet and install makes it.
	Create bool
}

// DetectRoot picks the FTP root from the folders present on the node. fsRoot is the
// file system to look at: "/" on a node, a prepared folder in tests.
func DetectRoot(fsRoot string) RootChoice {
	for _, r := range webrootRules {
		rootExists := isDir(filepath.Join(fsRoot, r.root))
		if len(r.markers) == 0 {
			if rootExists {
				return RootChoice{Path: r.root, Reason: r.why}
			}
			continue
		}
		for _, m := range r.markers {
			if isDir(filepath.Join(fsRoot, m)) {
				return RootChoice{Path: r.root, Reason: r.why, Create: !rootExists}
			}
		}
	}
	return RootChoice{
		Path:   FallbackRoot,
		Reason: "no known web root on this node",
		Create: !isDir(filepath.Join(fsRoot, FallbackRoot)),
	}
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
