package packaging

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// layerEvents are the platform events the add-on must handle, each with what its
// handler must run on the nodes (through the actions it calls).
var layerEvents = eventChecks{
	"onInstall":      "ftpctl install",
	"onUninstall":    "ftpctl uninstall",
	"onBeforeDelete": "ftpctl uninstall",
	"onAfterScaleOut[${targetNodes.nodeGroup}]":           "ftpctl state import",
	"onAfterServiceScaleOut[${targetNodes.nodeGroup}]":    "ftpctl state import",
	"onBeforeRedeployContainer[${targetNodes.nodeGroup}]": "ftpctl state save",
	"onAfterRedeployContainer[${targetNodes.nodeGroup}]":  "ftpctl state import",
	"onAfterClone":         "envName: ${event.response.env.envName}",
	"onAfterMigrate":       "ftpctl install",
	"onAfterAttachExtIp":   "ftpctl install",
	"onAfterDetachExtIp":   "ftpctl install",
	"onAfterSetExtIpCount": "ftpctl install",
}.withPackage()

type eventChecks map[string]string

// withPackage adds, for the events that bring nodes whose package may be missing, the
// package install and the redeploy.conf line.
func (m eventChecks) withPackage() map[string][]string {
	out := map[string][]string{}
	for ev, must := range m {
		out[ev] = []string{must}
		if strings.Contains(ev, "ScaleOut") || strings.HasPrefix(ev, "onAfterRedeploy") || ev == "onInstall" {
			out[ev] = append(out[ev], "dpkg -i", "grep -qxF \"$copy\" \"$conf\"")
		}
		if ev == "onUninstall" || ev == "onBeforeDelete" {
			out[ev] = append(out[ev], "grep -vxF \"$copy\" \"$conf\"")
		}
	}
	return out
}

// step is one thing an event handler runs: a cmd (with its target and user), a
// script, or a nested install, with the parameters the caller gave.
type step struct {
	where  string
	target string // the cmd's node selector
	user   string
	text   string // the shell of a cmd, the JavaScript of a script, the YAML of the rest
	script bool
}

// reach collects every step an event handler runs, following calls of the
// manifest's own actions (by name, or as a key with parameters).
func reach(actions map[string]any, node any, where string, seen map[string]bool, out *[]step) {
	switch v := node.(type) {
	case string:
		if _, ok := actions[v]; ok && !seen[v] {
			seen[v] = true
			reach(actions, actions[v], where+"→"+v, seen, out)
		}
	case []any:
		for i, s := range v {
			reach(actions, s, fmt.Sprintf("%s[%d]", where, i), seen, out)
		}
	case map[string]any:
		for k, child := range v {
			switch {
			case strings.HasPrefix(k, "cmd["):
				user, _ := v["user"].(string)
				text, _ := child.(string)
				*out = append(*out, step{where: where + "/" + k, target: strings.TrimSuffix(strings.TrimPrefix(k, "cmd["), "]"), user: user, text: text})
			case k == "script":
				text, _ := child.(string)
				*out = append(*out, step{where: where + "/script", text: text, script: true})
			case k == "install" || k == "params" || k == "settings":
				*out = append(*out, step{where: where + "/" + k, text: fmt.Sprint(flatten(child))})
			default:
				if _, ok := actions[k]; ok {
					// The parameters of a call are steps' text too: a placeholder
					// such as ${event.response.nodes.join(id,)} is passed this way.
					*out = append(*out, step{where: where + "/" + k, text: fmt.Sprint(flatten(child))})
					if !seen[k] {
						seen[k] = true
						reach(actions, actions[k], where+"→"+k, seen, out)
						delete(seen, k)
					}
				}
			}
		}
	}
}

// flatten writes a YAML value as "key: value" lines.
func flatten(v any) string {
	switch x := v.(type) {
	case map[string]any:
		var lines []string
		for k, c := range x {
			lines = append(lines, k+": "+flatten(c))
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	case []any:
		var lines []string
		for _, c := range x {
			lines = append(lines, flatten(c))
		}
		return strings.Join(lines, "\n")
	default:
		return fmt.Sprint(x)
	}
}

func eventSteps(t *testing.T, raw map[string]any, event string) []step {
	t.Helper()
	handler, ok := raw[event]
	require.True(t, ok, "the manifest does not handle %s", event)
	actions, _ := raw["actions"].(map[string]any)
	var steps []step
	reach(actions, handler, event, map[string]bool{}, &steps)
	require.NotEmpty(t, steps, event)
	return steps
}

// allSteps is every step of every handler and action, reachable or not.
func allSteps(raw map[string]any) []step {
	var steps []step
	actions, _ := raw["actions"].(map[string]any)
	for k, v := range raw {
		if strings.HasPrefix(k, "on") || k == "actions" {
			reach(actions, v, k, map[string]bool{}, &steps)
		}
	}
	return steps
}

func TestManifestLayerEvents(t *testing.T) {
	_, raw := loadManifest(t)
	for event, musts := range layerEvents {
		t.Run(event, func(t *testing.T) {
			var all strings.Builder
			for _, s := range eventSteps(t, raw, event) {
				fmt.Fprintf(&all, "%s\n%s\n", s.where, s.text)
			}
			for _, must := range musts {
				require.Contains(t, all.String(), must, "%s must reach %q", event, must)
			}
		})
	}
	t.Run("scale-out acts on the new nodes only", func(t *testing.T) {
		for _, ev := range []string{"onAfterScaleOut[${targetNodes.nodeGroup}]", "onAfterServiceScaleOut[${targetNodes.nodeGroup}]"} {
			for _, s := range eventSteps(t, raw, ev) {
				if s.target != "" {
					require.Equal(t, "${this.nodes}", s.target, s.where)
				}
			}
			params := ""
			for _, s := range eventSteps(t, raw, ev) {
				if !s.script && s.target == "" {
					params += s.text + "\n"
				}
			}
			require.Contains(t, params, "nodes: ${event.response.nodes.join(id,)}", ev)
			require.Contains(t, params, "targets: ${event.response.nodes.join(id,)}", ev)
		}
	})
	t.Run("the clone installs the add-on keeping passwords", func(t *testing.T) {
		clone := raw["onAfterClone"].([]any)
		install := clone[len(clone)-1].(map[string]any)["install"].(map[string]any)
		require.Equal(t, true, install["settings"].(map[string]any)["clone"])
		var text string
		for _, s := range eventSteps(t, raw, "onInstall") {
			text += s.text + "\n"
		}
		require.Contains(t, text, "keepPasswords: ${settings.clone}")
	})
}

// secretCommand matches the only way a secret may reach a node: printed by the
// shell's builtin printf into a pipe to ftpctl.
var (
	secretUse     = regexp.MustCompile(`\+\s*(password|state)\b|\b(password|state)\s*\+`)
	secretShown   = regexp.MustCompile(`^\s*add\("Password", .*\bpassword\b`)
	secretPipe    = regexp.MustCompile(`"printf '%s(\\\\n)?' '" \+ (password|state) \+ "' \| (base64 -d \| )?" \+ cmd;|"printf '%s(\\\\n)?' '" \+ (password|state) \+ "' \| (base64 -d \| )?ftpctl state import";`)
	execCall      = regexp.MustCompile(`ExecCmdBy\w+\(([^;]*)\);`)
	passwordMaker = regexp.MustCompile(`--generate|passhash|openssl rand|pwgen|/dev/u?random|mkpasswd|makepasswd|uuidgen`)
)

func TestManifestSecrets(t *testing.T) {
	_, raw := loadManifest(t)
	steps := allSteps(raw)
	t.Run("every cmd runs as root", func(t *testing.T) {
		n := 0
		for _, s := range steps {
			if s.target == "" {
				continue
			}
			n++
			require.Equal(t, "root", s.user, "%s runs as %q", s.where, s.user)
		}
		require.GreaterOrEqual(t, n, 5)
		calls := 0
		for _, s := range steps {
			for _, m := range execCall.FindAllStringSubmatch(s.text, -1) {
				calls++
				args := strings.Split(m[1], ",")
				require.Equal(t, `"root")`, strings.TrimSpace(args[len(args)-1])+")", "%s: %s", s.where, m[0])
			}
		}
		require.GreaterOrEqual(t, calls, 3)
	})
	t.Run("no node makes a password", func(t *testing.T) {
		for _, s := range steps {
			require.NotRegexp(t, passwordMaker, s.text, s.where)
		}
	})
	t.Run("every ftpctl that sets a password reads it on stdin", func(t *testing.T) {
		n := 0
		for _, s := range steps {
			for _, cmd := range []string{"ftpctl install", "ftpctl user add", "ftpctl user passwd"} {
				if strings.Contains(s.text, cmd) && !strings.Contains(s.text, "ftpctl state import") {
					n++
					i := strings.Index(s.text, cmd)
					line := s.text[i:]
					if j := strings.Index(line, ";"); j >= 0 {
						line = line[:j]
					}
					require.Contains(t, line, "--password-stdin", "%s: %s", s.where, line)
				}
			}
		}
		require.GreaterOrEqual(t, n, 2)
	})
	t.Run("every secret flows through stdin", func(t *testing.T) {
		uses := 0
		for _, s := range steps {
			if s.target != "" {
				require.NotRegexp(t, `\$\{this\.password\}|fn\.password`, s.text, "%s: a cmd must not hold a password", s.where)
			}
			if !s.script {
				continue
			}
			for _, m := range secretUse.FindAllStringIndex(s.text, -1) {
				uses++
				start := strings.LastIndex(s.text[:m[0]], "\n")
				end := strings.Index(s.text[m[1]:], "\n") + m[1]
				line := s.text[start+1 : end]
				if !secretShown.MatchString(line) {
					require.Regexp(t, secretPipe, line, "%s: a secret reaches a node other than on ftpctl's stdin", s.where)
				}
			}
		}
		require.GreaterOrEqual(t, uses, 2)
		passwordParams := 0
		for _, s := range steps {
			if strings.Contains(s.text, "fn.password") {
				require.False(t, s.script, "%s", s.where)
				for _, l := range strings.Split(s.text, "\n") {
					if strings.Contains(l, "fn.password") {
						require.True(t, strings.HasPrefix(l, "password: ${fn.password(") && strings.HasSuffix(l, ")}"), "%s: %s", s.where, l)
						passwordParams++
					}
				}
			}
		}
		require.GreaterOrEqual(t, passwordParams, 3)
	})
	t.Run("the owner learns that the credentials hold on every node", func(t *testing.T) {
		onLayer := raw["actions"].(map[string]any)["onLayer"].(map[string]any)["script"].(string)
		require.Contains(t, onLayer, "hold on every node of the layer")
		require.Contains(t, onLayer, "resp.responses")
		require.Contains(t, onLayer, `"Host of node "`)
		require.True(t, slices.ContainsFunc(strings.Split(onLayer, "\n"), func(l string) bool {
			return strings.Contains(l, "email: text")
		}))
	})
}
