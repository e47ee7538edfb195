package ftpd

import (
	"crypto/md5"  //nolint:gosec // asked for by name (HASH MD5, XMD5)
	"crypto/sha1" //nolint:gosec // asked for by name (HASH SHA-1, XSHA1)
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
)

// maxCwd bounds the current folder's path, so that PWD's reply stays a line
// any client reads whole.
const maxCwd = 2048

// abs turns a client path into a clean absolute path from the current folder.
func (s *session) abs(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join(s.cwd, p)
}

// errorCode is the reply code for a file system error: 553 for a name the
// server does not allow, else fallback.
func errorCode(err error, fallback int) int {
	if errors.Is(err, rootfs.ErrReservedName) {
		return 553
	}
	return fallback
}

func (s *session) cmdPWD(string) bool {
	return s.reply(257, `"`+strings.ReplaceAll(s.cwd, `"`, `""`)+`" is the current directory`) == nil
}

func (s *session) cmdCWD(arg string) bool {
	target := s.abs(arg)
	fi, err := s.fs.Stat(target)
	switch {
	case err != nil:
		return s.reply(550, "CD issue: "+err.Error()) == nil
	case !fi.IsDir():
		return s.reply(550, "Can't change directory to "+target+": Not a Directory") == nil
	case len(target) > maxCwd:
		return s.reply(550, "Can't change directory: the path is longer than "+strconv.Itoa(maxCwd)+" bytes") == nil
	}
	s.cwd = target
	return s.reply(250, "CD worked on "+target) == nil
}

func (s *session) cmdCDUP(string) bool {
	parent := path.Dir(s.cwd)
	if _, err := s.fs.Stat(parent); err != nil {
		return s.reply(550, "CDUP issue: "+err.Error()) == nil
	}
	s.cwd = parent
	return s.reply(250, "CDUP worked on "+parent) == nil
}

func (s *session) cmdMKD(arg string) bool {
	target := s.abs(arg)
	quoted := strings.ReplaceAll(target, `"`, `""`)
	if err := s.fs.Mkdir(target, 0o755); err != nil {
		return s.reply(550, `Could not create "`+quoted+`" : `+err.Error()) == nil
	}
	return s.reply(257, `Created dir "`+quoted+`"`) == nil
}

func (s *session) cmdRMD(arg string) bool {
	target := s.abs(arg)
	if err := s.fs.RemoveDir(target); err != nil {
		return s.reply(550, "Could not delete dir "+target+": "+err.Error()) == nil
	}
	return s.reply(250, "Deleted dir "+target) == nil
}

func (s *session) cmdDELE(arg string) bool {
	target := s.abs(arg)
	if err := s.fs.Remove(target); err != nil {
		return s.reply(550, "Couldn't delete "+target+": "+err.Error()) == nil
	}
	return s.reply(250, "Removed file "+target) == nil
}

func (s *session) cmdRNFR(arg string) bool {
	source := s.abs(arg)
	s.rnfr = ""
	if _, err := s.fs.Stat(source); err != nil {
		return s.reply(550, "Couldn't access "+source+": "+err.Error()) == nil
	}
	s.rnfr = source
	return s.send(replyRenameFrom) == nil
}

// cmdRNTO renames the source of the RNFR right before it (RFC 959), and only
// a source that RNFR found.
func (s *session) cmdRNTO(arg string) bool {
	source := s.rnfr
	s.rnfr = ""
	switch {
	case s.prevVerb != "RNFR":
		return s.send(replyRenameSeq) == nil
	case source == "":
		return s.send(replyRenameNoSource) == nil
	}
	target := s.abs(arg)
	if err := s.fs.Rename(source, target); err != nil {
		return s.reply(errorCode(err, 550), "Couldn't rename "+source+" to "+target+": "+err.Error()) == nil
	}
	return s.send(replyRenameDone) == nil
}

func (s *session) cmdSIZE(arg string) bool {
	target := s.abs(arg)
	fi, err := s.fs.Stat(target)
	switch {
	case err != nil:
		return s.reply(550, "Couldn't access "+target+": "+err.Error()) == nil
	case fi.IsDir():
		return s.reply(550, target+" is a directory") == nil
	}
	return s.reply(213, strconv.FormatInt(fi.Size(), 10)) == nil
}

// mlsxTime is the time format of MDTM, MFMT and the MLSx facts (RFC 3659).
const mlsxTime = "20060102150405"

func (s *session) cmdMDTM(arg string) bool {
	target := s.abs(arg)
	fi, err := s.fs.Stat(target)
	if err != nil {
		return s.reply(550, "Couldn't access "+target+": "+err.Error()) == nil
	}
	return s.reply(213, fi.ModTime().UTC().Format(mlsxTime)) == nil
}

func (s *session) cmdMFMT(arg string) bool {
	stamp, name, ok := strings.Cut(arg, " ")
	if !ok {
		return s.reply(500, "Couldn't set mtime, not enough params, given: "+arg) == nil
	}
	mtime, err := time.Parse(mlsxTime, stamp)
	if err != nil {
		return s.reply(501, "Couldn't parse mtime, given: "+stamp+", err: "+err.Error()) == nil
	}
	target := s.abs(name)
	if err := s.fs.Chtimes(target, mtime, mtime); err != nil {
		return s.reply(550, "Couldn't set mtime "+strconv.Quote(mtime.Format(time.RFC3339))+" for "+strconv.Quote(target)+", err: "+err.Error()) == nil
	}
	return s.reply(213, "Modify="+stamp+"; "+name) == nil
}

func (s *session) cmdALLO(arg string) bool {
	size, err := strconv.Atoi(arg)
	if err != nil {
		return s.reply(501, "Couldn't parse size: "+err.Error()) == nil
	}
	if err := s.fs.AllocateSpace(size); err != nil {
		return s.reply(550, "Couldn't allocate: "+err.Error()) == nil
	}
	return s.send(replyAlloDone) == nil
}

// The hash algorithms of HASH (draft-bryan-ftpext-hash) by their names, the
// strongest first, as FEAT lists them; SHA-256 until OPTS HASH picks another.
var (
	hashOrder   = []string{"SHA-512", "SHA-256", "SHA-1", "MD5", "CRC32"}
	defaultHash = "SHA-256"
)

func hashByName(name string) (func() hash.Hash, bool) {
	switch name {
	case "SHA-512":
		return sha512.New, true
	case "SHA-256":
		return sha256.New, true
	case "SHA-1":
		return sha1.New, true
	case "MD5":
		return md5.New, true
	case "CRC32":
		return func() hash.Hash { return crc32.NewIEEE() }, true
	}
	return nil, false
}

// hashCommand is one of the older, one-algorithm hash commands.
type hashCommand struct{ algo string }

func (h hashCommand) handle(s *session, arg string) bool { return s.hashFile(arg, h.algo, true) }

var hashCommands = map[string]hashCommand{
	"XCRC": {"CRC32"}, "MD5": {"MD5"}, "XMD5": {"MD5"}, "XSHA": {"SHA-1"},
	"XSHA1": {"SHA-1"}, "XSHA256": {"SHA-256"}, "XSHA512": {"SHA-512"},
}

func (s *session) cmdHASH(arg string) bool { return s.hashFile(arg, s.hashAlgo, false) }

// hashFile answers HASH (ranged by REST) and the X… commands ("path [start
// [end]]", the path quoted if it holds spaces).
func (s *session) hashFile(arg, algo string, ranged bool) bool {
	args := splitQuoted(arg)
	if len(args) == 0 {
		return s.reply(501, "invalid HASH parameters: "+arg) == nil
	}
	target := s.abs(args[0])
	fi, err := s.fs.Stat(target)
	if err != nil {
		return s.reply(550, arg+": "+err.Error()) == nil
	}
	if !fi.Mode().IsRegular() {
		return s.reply(553, arg+" is not a regular file") == nil
	}
	start, end := int64(0), fi.Size()
	if ranged {
		for i, p := range []*int64{&start, &end} {
			if len(args) > i+1 {
				if *p, err = strconv.ParseInt(args[i+1], 10, 64); err != nil {
					return s.reply(501, "invalid offset "+args[i+1]+": "+err.Error()) == nil
				}
			}
		}
	}
	newHash, _ := hashByName(algo)
	sum, err := s.sumFile(target, newHash(), start, end)
	if err != nil {
		return s.reply(550, args[0]+": "+err.Error()) == nil
	}
	first := "Computing " + algo + " digest\n"
	if ranged {
		return s.reply(250, first+sum) == nil
	}
	return s.reply(213, first+algo+" "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+" "+sum+" "+args[0]) == nil
}

func (s *session) sumFile(name string, h hash.Hash, start, end int64) (string, error) {
	f, err := s.fs.GetHandle(name, os.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return "", err
	}
	if _, err := io.CopyN(h, f, end-start); err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// splitQuoted splits arguments at spaces; one in double quotes may hold
// spaces.
func splitQuoted(arg string) []string {
	var out []string
	for arg = strings.TrimLeft(arg, " "); arg != ""; arg = strings.TrimLeft(arg, " ") {
		if arg[0] == '"' {
			if end := strings.IndexByte(arg[1:], '"'); end >= 0 {
				out = append(out, arg[1:end+1])
				arg = arg[end+2:]
				continue
			}
		}
		field, rest, _ := strings.Cut(arg, " ")
		out = append(out, field)
		arg = rest
	}
	return out
}
