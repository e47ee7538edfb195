package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/jelastic/jelastic-ftp/users/etcdb"
)

// These tests run the add-on on a layer of simulated nodes, as the platform runs
// packaging/manifest.jps on one. A node is a set of private mount namespaces (one per
// command, as everywhere in these tests) that share the node's own copy of /etc, its
// own FTP root and state folder, mounted at the same paths on every node (as on a real
// layer, where every node has /var/www/webroot and /var/lib/jelastic-ftp), its own
// host name (a UTS namespace) and its own loopback address, 127.0.0.1N. A real
// layer's nodes each have a network of their own and all listen on :21; here they
// share the loopback, so each node listens on its own address and the same port.
//
// The manifest's cmd steps run as they are, with ${globals.stateCopy} replaced by this
// layer's state folder and an ftpctl on PATH that is the binary under test with the
// node's folders; the commands its scripts build are written out here the same way.

// layer is the nodes' common view: the paths every node sees, and the port.
type layer struct {
	t     *testing.T
	Root  string // the FTP root's path on every node
	State string // the state folder's path on every node
	Port  int
	nodes int
	jps   map[string]any
}

func newLayer(t *testing.T) *layer {
	t.Helper()
	requireSudoTools(t)
	base := t.TempDir()
	l := &layer{t: t, Root: filepath.Join(base, "webroot"), State: filepath.Join(base, "state"), Port: freePorts(t)}
	for _, d := range []string{l.Root, l.State} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	data, err := os.ReadFile("../packaging/manifest.jps")
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, &l.jps))
	return l
}

// stateCopy is where every node keeps its state copy.
func (l *layer) stateCopy() string { return filepath.Join(l.State, "state.json") }

// node is one container of the layer.
type node struct {
	*installEnv
	l    *layer
	Name string
	IP   string
	// image holds what the container image has in /etc, which a redeploy brings back.
	image string
	bin   string // holds the node's ftpctl
}

// newNode makes a container fresh from the image: no add-on, the platform's
// /etc/jelastic, and the container owner's account.
func (l *layer) newNode(name string) *node {
	l.t.Helper()
	l.nodes++
	ie := newInstallEnv(l.t)
	n := &node{installEnv: ie, l: l, Name: name, IP: fmt.Sprintf("127.0.0.%d", 10+l.nodes), image: l.t.TempDir(), bin: l.t.TempDir()}
	ie.Port = l.Port
	ie.Addr = net.JoinHostPort(n.IP, strconv.Itoa(l.Port))
	require.NoError(l.t, os.MkdirAll(ie.State, 0o755))
	ie.binds = []bind{{Src: ie.Root, Dst: l.Root}, {Src: ie.State, Dst: l.State}}
	ie.hostname = name
	ie.StateDir = l.State
	require.NoError(l.t, os.RemoveAll(filepath.Join(ie.Etc, "jelastic-ftp")))
	require.NoError(l.t, os.MkdirAll(filepath.Join(ie.Etc, "jelastic"), 0o755))
	hosts := ie.ReadEtc("hosts")
	ie.WriteEtc("hosts", hosts+"\n"+n.IP+" "+name+"\n", 0o644) // sudo looks its host up
	if !strings.Contains("\n"+ie.ReadEtc("passwd"), "\n"+sudoOwner+":") {
		ie.addAccount(sudoOwner)
	}
	for _, f := range []string{"passwd", "shadow", "group", "gshadow", "sudoers.d"} {
		copyTree(l.t, filepath.Join(ie.Etc, f), filepath.Join(n.image, f))
	}
	n.writeFtpctl()
	return n
}

// copyTree copies src to dst (which must not exist) with owners and modes.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	out, err := exec.Command("cp", "-a", src, dst).CombinedOutput()
	require.NoError(t, err, "cp -a %s %s: %s", src, dst, out)
}

// writeFtpctl puts the node's ftpctl on its PATH: the binary under test, told where
// this node keeps its state, log and PID file, and (for install) its address.
func (n *node) writeFtpctl() {
	folders := fmt.Sprintf("--state-dir %q --log-dir %q --run-dir %q", n.l.State, n.Log, n.Run)
	script := fmt.Sprintf(`#!/bin/sh
case "$1" in
install) shift; exec %[1]q install --root %[2]q --listen %[3]q --sftp-listen %[6]q --passive-ports %[4]q %[5]s "$@" ;;
uninstall) shift; exec %[1]q uninstall %[5]s "$@" ;;
state) sub=$2; shift 2; exec %[1]q state "$sub" %[5]s "$@" ;;
*) exec %[1]q "$@" ;;
esac
`, ftpctlBin, n.l.Root, n.Addr, fmt.Sprintf("%d-%d", n.Port+2, n.Port+portBlock-1), folders, n.SFTPAddr())
	require.NoError(n.t, os.WriteFile(filepath.Join(n.bin, "ftpctl"), []byte(script), 0o755))
}

// sh runs a shell command on the node with its ftpctl first on PATH, as the platform
// runs a cmd step, and notes the service it may have started.
func (n *node) sh(stdin, script string) Result {
	n.t.Helper()
	r := n.Env.Run(stdin, "env", "PATH="+n.bin+":"+os.Getenv("PATH"), "sh", "-c", script)
	n.track()
	return r
}

func (n *node) mustSh(stdin, script string) Result {
	n.t.Helper()
	r := n.sh(stdin, script)
	require.Equal(n.t, 0, r.Code, "on %s: %s\n%s", n.Name, script, r)
	return r
}

// cmdStep is the shell of a cmd step of the manifest, with the layer's state copy
// for ${globals.stateCopy}: path is the keys down to the step, the last one cmd[...].
func (l *layer) cmdStep(path ...any) string {
	l.t.Helper()
	var v any = l.jps
	for _, k := range path {
		switch k := k.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
		require.NotNil(l.t, v, "the manifest has no %v", path)
	}
	return strings.ReplaceAll(v.(string), "${globals.stateCopy}", l.stateCopy())
}

// withPassword is what the manifest's onLayer script sends a node: the layer's one
// password through the shell's printf into ftpctl.
func withPassword(password, cmd string) string {
	return "printf '%s\\n' '" + password + "' | " + cmd
}

// onLayer runs cmd with password on every node as the manifest's onLayer does, and
// checks what it checks: every node answers, with the same user and port.
func onLayer(t *testing.T, nodes []*node, password, cmd string) []map[string]any {
	t.Helper()
	var answers []map[string]any
	for _, n := range nodes {
		r := n.mustSh("", withPassword(password, cmd))
		var out map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out), "%s answered %s", n.Name, r.Stdout)
		require.NotContains(t, out, "password", "%s printed back the password it was given", n.Name)
		require.NotContains(t, r.Stdout+r.Stderr, password, "%s printed the password", n.Name)
		answers = append(answers, out)
	}
	for i, a := range answers {
		for _, k := range []string{"user", "port", "home"} {
			require.Equal(t, answers[0][k], a[k], "%s disagrees with %s on %s", nodes[i].Name, nodes[0].Name, k)
		}
	}
	return answers
}

// shadowLine is name's shadow line on the node: the hash and every date.
func (n *node) shadowLine(name string) string {
	n.t.Helper()
	f, err := etcdb.Parse(etcdb.Shadow, []byte(n.ReadEtc("shadow")))
	require.NoError(n.t, err)
	e, err := f.Lookup(name)
	require.NoError(n.t, err, "%s on %s", name, n.Name)
	return strings.Join(e, ":")
}

// account is what must survive a redeploy or reach a new node.
type account struct {
	Shadow, Home, Description string
	ReadOnly                  bool
	SudoRule                  bool
}

func (n *node) accounts(names ...string) map[string]account {
	n.t.Helper()
	out := map[string]account{}
	for _, name := range names {
		r := n.Ftpctl("", "user", "show", name, "--json")
		require.Equal(n.t, 0, r.Code, "%s on %s: %s", name, n.Name, r)
		var u struct {
			Home        string `json:"home"`
			Description string `json:"description"`
			ReadOnly    bool   `json:"read_only"`
		}
		require.NoError(n.t, json.Unmarshal([]byte(r.Stdout), &u))
		rules, err := os.ReadFile(filepath.Join(n.Etc, dropIn))
		if !os.IsNotExist(err) {
			require.NoError(n.t, err)
		}
		out[name] = account{Shadow: n.shadowLine(name), Home: u.Home, Description: u.Description, ReadOnly: u.ReadOnly, SudoRule: strings.Contains(string(rules), ownerRule(sudoOwner, name))}
	}
	return out
}

func (n *node) requireLogins(creds map[string]string) {
	n.t.Helper()
	for user, pw := range creds {
		n.requireLogin(user, pw)
	}
}

// redeploy replaces the container as the platform does: the manifest's step before,
// then the image's passwd, shadow, group, gshadow and sudoers.d, nothing of the add-on
// but the paths redeploy.conf lists, no running service; then the step after.
func (n *node) redeploy() {
	n.t.Helper()
	ev := "onBeforeRedeployContainer[${targetNodes.nodeGroup}]"
	n.mustSh("", n.l.cmdStep(ev, 0, "cmd[${targetNodes.nodeGroup}]"))

	n.stopServices()
	require.NoError(n.t, os.RemoveAll(n.Run))
	kept := strings.Fields(n.ReadEtc("jelastic/redeploy.conf"))
	for _, f := range []string{"passwd", "shadow", "group", "gshadow", "sudoers.d"} {
		require.NoError(n.t, os.RemoveAll(filepath.Join(n.Etc, f)))
		copyTree(n.t, filepath.Join(n.image, f), filepath.Join(n.Etc, f))
	}
	require.NoError(n.t, os.RemoveAll(filepath.Join(n.Etc, "jelastic-ftp")))
	entries, err := os.ReadDir(n.State)
	require.NoError(n.t, err)
	for _, e := range entries {
		if !slices.Contains(kept, filepath.Join(n.l.State, e.Name())) {
			require.NoError(n.t, os.RemoveAll(filepath.Join(n.State, e.Name())))
		}
	}

	ev = "onAfterRedeployContainer[${targetNodes.nodeGroup}]"
	n.mustSh("", n.l.cmdStep("actions", "keepStateOnRedeploy", "cmd[${this.nodes}]"))
	n.mustSh("", n.l.cmdStep(ev, 2, "cmd[${targetNodes.nodeGroup}]"))
}

// scaleOut is the manifest's copyState: export on the master, import on the new node.
func scaleOut(t *testing.T, master, fresh *node) Result {
	t.Helper()
	fresh.mustSh("", fresh.l.cmdStep("actions", "keepStateOnRedeploy", "cmd[${this.nodes}]"))
	state := master.mustSh("", "ftpctl state export | base64 -w0").Stdout
	return fresh.mustSh("", "printf '%s' '"+state+"' | base64 -d | ftpctl state import")
}

func TestLayerOfThreeNodes(t *testing.T) {
	l := newLayer(t)
	nodes := []*node{l.newNode("node1"), l.newNode("node2"), l.newNode("node3")}
	const install = "ftpctl install --reset-password --password-stdin --json"

	// onInstall: the redeploy.conf line, then one password on every node.
	keep := l.cmdStep("actions", "keepStateOnRedeploy", "cmd[${this.nodes}]")
	for _, n := range nodes {
		n.mustSh("", keep)
		n.mustSh("", keep)
		require.Equal(t, l.stateCopy()+"\n", n.ReadEtc("jelastic/redeploy.conf"), "one line, however often")
	}
	first := "Layer-Pass-1a"
	for _, out := range onLayer(t, nodes, first, install) {
		require.Equal(t, true, out["password_changed"])
		require.Equal(t, "jelastic-ftp", out["user"])
	}
	for _, n := range nodes {
		n.requireLogin("jelastic-ftp", first)
		fi, err := os.Stat(filepath.Join(n.State, "state.json"))
		require.NoError(t, err, "install keeps a state copy")
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	}

	// Reset password: the new one everywhere, the old one nowhere.
	second := "Layer-Pass-2b"
	onLayer(t, nodes, second, install)
	for _, n := range nodes {
		n.requireLogin("jelastic-ftp", second)
		require.Equal(t, 67, n.login("jelastic-ftp", first, false).Code, "%s still takes the old password", n.Name)
	}

	// Add user: the same account on every node; each change refreshes the copy.
	alicePW := "Alice-Pass-3c"
	home := filepath.Join(l.Root, "site")
	onLayer(t, nodes, alicePW, "ftpctl user add 'alice' --home '"+home+"' --read-only --password-stdin --json")
	for _, n := range nodes {
		n.requireLogin("alice", alicePW)
		require.Contains(t, string(mustRead(t, filepath.Join(n.State, "state.json"))), `"name": "alice"`)
	}
	hashes := nodes[0].accounts("jelastic-ftp", "alice")
	require.True(t, hashes["alice"].ReadOnly)
	require.True(t, hashes["alice"].SudoRule)
	require.True(t, hashes["jelastic-ftp"].SudoRule)

	// The owner changes alice's password with sudo passwd on node 1, behind ftpctl's
	// back; a new node gets it through export and import.
	changed := "Owner-Chosen-4d"
	r := nodes[0].asOwner(sudoOwner, changed+"\n"+changed+"\n", "/usr/bin/passwd", "alice")
	require.Equal(t, 0, r.Code, r.String())
	nodes[0].requireLogin("alice", changed)

	t.Run("a stateless scale-out node gets the layer's accounts", func(t *testing.T) {
		fresh := l.newNode("node4")
		// The image's ftpd.toml names the node's own address: see the top of this file.
		require.NoError(t, os.MkdirAll(filepath.Join(fresh.Etc, "jelastic-ftp"), 0o755))
		fresh.WriteEtc("jelastic-ftp/ftpd.toml", fmt.Sprintf("listen = %q\nsftp_listen = %q\n", fresh.Addr, fresh.SFTPAddr()), 0o644)
		r := scaleOut(t, nodes[0], fresh)
		require.Contains(t, r.Stdout, "set the FTP user alice")
		want := nodes[0].accounts("jelastic-ftp", "alice")
		require.Equal(t, want, fresh.accounts("jelastic-ftp", "alice"))
		fresh.requireLogins(map[string]string{"jelastic-ftp": second, "alice": changed})
		require.Contains(t, readCert(t, filepath.Join(fresh.State, "cert.pem")).DNSNames, "node4", "a certificate of its own")

		// A second import changes nothing, and says so.
		before := fresh.systemFiles()
		r = scaleOut(t, nodes[0], fresh)
		require.Empty(t, r.Stdout)
		require.Contains(t, r.Stderr, "nothing to change")
		require.Equal(t, before, fresh.systemFiles())
	})

	t.Run("a redeploy brings every account back", func(t *testing.T) {
		n := nodes[1]
		// What user mod writes to passwd and shadow comes back too: an account that
		// expires must not come back without its expiry.
		r := n.Ftpctl("", "user", "mod", "alice", "--description", "Alice from sales", "--expires", "2031-01-31", "--password-max-days", "400")
		require.Equal(t, 0, r.Code, r.String())
		want := n.accounts("jelastic-ftp", "alice")
		require.Contains(t, want["alice"].Shadow, ":400:", "%s", want["alice"].Shadow)
		require.Equal(t, "Alice from sales", want["alice"].Description)
		cert := mustRead(t, filepath.Join(n.State, "cert.pem"))
		n.redeploy()
		require.Equal(t, want, n.accounts("jelastic-ftp", "alice"))
		require.Equal(t, cert, mustRead(t, filepath.Join(n.State, "cert.pem")), "same host, same certificate")
		n.requireLogins(map[string]string{"jelastic-ftp": second, "alice": alicePW})
		n.RequireConsistent()
		require.Equal(t, 0, n.Env.Run("", "visudo", "-c").Code)
	})

	t.Run("install after a redeploy restores the copy", func(t *testing.T) {
		n := nodes[2]
		want := n.accounts("jelastic-ftp", "alice")
		n.stopServices()
		for _, f := range []string{"passwd", "shadow", "group", "gshadow"} {
			require.NoError(t, os.WriteFile(filepath.Join(n.Etc, f), mustRead(t, filepath.Join(n.image, f)), 0o640))
		}
		require.NoError(t, os.RemoveAll(filepath.Join(n.Etc, "sudoers.d", "jelastic")))
		r := n.mustSh("", "ftpctl install --json")
		require.Contains(t, r.Stderr, "restored the add-on from the state copy")
		require.Equal(t, want, n.accounts("jelastic-ftp", "alice"))
		n.requireLogins(map[string]string{"jelastic-ftp": second, "alice": alicePW})
	})

	t.Run("a clone with a new host name gets a new certificate and the same accounts", func(t *testing.T) {
		src := nodes[0]
		clone := l.newNode("clone1")
		for _, pair := range [][2]string{{src.Etc, clone.Etc}, {src.Root, clone.Root}, {src.State, clone.State}} {
			require.NoError(t, os.RemoveAll(pair[1]))
			copyTree(t, pair[0], pair[1])
		}
		clone.WriteEtc("hosts", clone.ReadEtc("hosts")+"\n"+clone.IP+" clone1\n", 0o644)
		// onInstall in the clone: keepPasswords, so no --reset-password.
		out := onLayer(t, []*node{clone}, "Unused-Pass-5e", "ftpctl install --password-stdin --json")
		require.Equal(t, false, out[0]["password_changed"])
		require.Equal(t, src.accounts("jelastic-ftp", "alice"), clone.accounts("jelastic-ftp", "alice"))
		old := readCert(t, filepath.Join(src.State, "cert.pem"))
		cert := readCert(t, filepath.Join(clone.State, "cert.pem"))
		require.NotEqual(t, old.Raw, cert.Raw)
		require.Contains(t, cert.DNSNames, "clone1")
		clone.requireLogins(map[string]string{"jelastic-ftp": second, "alice": changed})
	})

	t.Run("uninstall removes accounts, rules and the redeploy.conf line, keeps files", func(t *testing.T) {
		n := nodes[0]
		require.NoError(t, os.WriteFile(filepath.Join(n.Root, "site", "keep.txt"), []byte("data"), 0o644))
		n.mustSh("", l.cmdStep("actions", "forgetStateOnRedeploy", "cmd[${this.nodes}]"))
		n.mustSh("", "ftpctl uninstall")
		require.Empty(t, strings.TrimSpace(n.ReadEtc("jelastic/redeploy.conf")))
		require.NoFileExists(t, filepath.Join(n.State, "state.json"))
		require.NotContains(t, n.ReadEtc("passwd"), "alice:")
		require.NoFileExists(t, filepath.Join(n.Etc, dropIn))
		require.FileExists(t, filepath.Join(n.Root, "site", "keep.txt"))
	})
}

func TestStateImportRefusesBadInput(t *testing.T) {
	l := newLayer(t)
	n := l.newNode("node1")
	onLayer(t, []*node{n}, "Layer-Pass-1a", "ftpctl install --reset-password --password-stdin --json")
	onLayer(t, []*node{n}, "Alice-Pass-2b", "ftpctl user add 'alice' --password-stdin --json")
	good := n.mustSh("", "ftpctl state export").Stdout
	edit := func(change func(map[string]any)) string {
		var c map[string]any
		require.NoError(t, json.Unmarshal([]byte(good), &c))
		change(c)
		b, err := json.Marshal(c)
		require.NoError(t, err)
		return string(b)
	}
	account := func(c map[string]any, key, value string) {
		c["accounts"].([]any)[1].(map[string]any)[key] = value
	}
	cases := map[string]struct{ input, want string }{
		"empty":             {"", "no state on standard input"},
		"truncated":         {good[:len(good)/2], "ends too early"},
		"cut at the end":    {good[:len(good)-3], "ends too early"},
		"not JSON":          {"schema = 1\n", "not the JSON"},
		"two states":        {good + good, "data after its JSON object"},
		"another schema":    {edit(func(c map[string]any) { c["schema"] = 2 }), "schema 2"},
		"unknown key":       {edit(func(c map[string]any) { c["extra"] = true }), `unknown field "extra"`},
		"home outside root": {edit(func(c map[string]any) { account(c, "home", "/etc") }), "outside the FTP root"},
		"plain password":    {edit(func(c map[string]any) { account(c, "hash", "Alice Pass") }), "malformed password hash"},
		"bad name":          {edit(func(c map[string]any) { account(c, "name", "Alice:0") }), "is not valid"},
		"system account": {edit(func(c map[string]any) {
			account(c, "name", "root")
			c["sudo_grants"] = []any{}
		}), "the account root exists on this node and is not an FTP account"},
		"bad setting":      {edit(func(c map[string]any) { c["ftpd_toml"] = "passive_ports = \"2-1\"\n" }), "passive_ports"},
		"bad user options": {edit(func(c map[string]any) { c["users_toml"] = "[users.alice]\nread_only = \"yes\"\n" }), "read_only"},
		"rule for a stranger": {edit(func(c map[string]any) {
			c["sudo_grants"] = []any{map[string]any{"owner": sudoOwner, "user": "mallory"}}
		}), "mallory, which is not among the accounts"},
		"rule with a list": {edit(func(c map[string]any) {
			c["sudo_grants"] = []any{map[string]any{"owner": "ALL,root", "user": "alice"}}
		}), "cannot go into a sudoers rule"},
		"mismatched key": {edit(func(c map[string]any) {
			c["tls"].(map[string]any)["key_pem"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}), "do not form a pair"},
		"SSH host keys out of order": {edit(func(c map[string]any) {
			k := c["ssh_host_keys"].([]any)
			k[0], k[2] = k[2], k[0]
		}), "is of type ssh-rsa, not ssh-ed25519"},
		"SSH host key missing": {edit(func(c map[string]any) { c["ssh_host_keys"] = c["ssh_host_keys"].([]any)[:2] }), "expected 3 SSH host keys"},
	}
	before := n.systemFiles()
	copyBefore := mustRead(t, filepath.Join(n.State, "state.json"))
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := n.sh(c.input, "ftpctl state import")
			require.NotEqual(t, 0, r.Code, "accepted: %s", r)
			requireOneLine(t, r.Stderr)
			require.Contains(t, r.Stderr, c.want)
			require.Equal(t, before, n.systemFiles(), "a refused import changed files")
			require.Equal(t, copyBefore, mustRead(t, filepath.Join(n.State, "state.json")))
		})
	}
	// The state is root's only: export refuses others, and the copy is 0600.
	r := n.Env.Run("", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ftpctlBin, "state", "export", "--state-dir", l.State)
	require.NotEqual(t, 0, r.Code)
	require.NotContains(t, r.Stdout, "$")
}

func TestInstallPasswordStdinRefusesBadPasswords(t *testing.T) {
	l := newLayer(t)
	n := l.newNode("node1")
	before := n.systemFiles()
	for name, stdin := range map[string]string{
		"nothing":   "",
		"too short": "short\n",
		"NUL":       "Long-Enough\x00-1\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := n.sh(stdin, "ftpctl install --reset-password --password-stdin --json")
			require.Equal(t, 2, r.Code, r.String())
			requireOneLine(t, r.Stderr)
			require.Empty(t, r.Stdout)
			require.Equal(t, before, n.systemFiles(), "a refused install changed files")
		})
	}
}
