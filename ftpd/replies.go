package ftpd

import "github.com/jelastic/jelastic-ftp/users/perm"

// reply is a fixed reply: its code and text. Replies that name a path or an
// error are built by the command from one of the codes below and the text.
type reply struct {
	code int
	text string
}

// The replies of the server, by what they answer.
var (
	// Login and security.
	replyLoginFirst      = reply{530, "Please login with USER and PASS"}
	replyTLSFirst        = reply{530, "TLS required: send AUTH TLS before USER."}
	replyPassword        = reply{331, "Please specify the password."}
	replyUserFirst       = reply{503, "Login with USER first."}
	replyLoggedIn        = reply{230, "Login successful."}
	replyLoginIncorrect  = reply{530, "Login incorrect."}
	replyAlreadyIn       = reply{230, "Already logged in."}
	replyNoSecondUser    = reply{530, "Already logged in; open a new connection to change user."}
	replyLoginOutage     = reply{421, "Login service not available, try again later."}
	replyHomeUnavailable = reply{421, "Home directory not available."}
	replyAuthOK          = reply{234, "Proceed with TLS negotiation."}
	replyNoTLS           = reply{502, "TLS is not configured on this server."}
	replyTLSActive       = reply{503, "TLS is already active."}
	replyAuthAfterUser   = reply{503, "AUTH must come before USER."}
	replyAuthMechanism   = reply{504, "Only AUTH TLS is supported."}
	replyPipelinedAuth   = reply{503, "Send nothing after AUTH TLS before the TLS handshake."}
	replyTLSBeforeProt   = reply{503, "Secure the control connection with AUTH TLS first."}
	replyPBSZ            = reply{200, "PBSZ=0"}
	replyProt            = reply{200, "OK"}
	replyProtLevel       = reply{504, "Only PROT C and PROT P are supported."}
	replyProtFirst       = reply{522, "Data connections must be encrypted: send PROT P first."}
	replyGoodbye         = reply{221, "Goodbye."}
	replyUserSessions    = reply{421, "Too many sessions for this user, try again later."}
	replyAccessChanged   = reply{421, "The account's access changed during login; log in again."}
	replyShuttingDown    = reply{421, "Server is shutting down."}

	// Session.
	replyOK             = reply{200, "OK"}
	replySyst           = reply{215, "UNIX Type: L8"}
	replyClnt           = reply{200, "Good to know"}
	replyUTF8           = reply{200, "I'm in UTF8 only anyway"}
	replyUnknownOption  = reply{500, "Don't know this option"}
	replyUnknownHash    = reply{501, "Unknown algorithm, current selection not changed"}
	replyTypeBinary     = reply{200, "Type set to binary"}
	replyTypeASCII      = reply{200, "Type set to ASCII"}
	replyTypeUnknown    = reply{504, "Unsupported transfer type"}
	replyModeStream     = reply{200, "Using stream mode"}
	replyModeUnknown    = reply{504, "Unsupported mode"}
	replyStruFile       = reply{200, "Using file structure"}
	replyStruUnknown    = reply{504, "Only STRU F is supported."}
	replyNotImplemented = reply{502, "This command hasn't been implemented !"}
	replyHost           = reply{220, "Single-host server: HOST accepted."}
	replyHostLate       = reply{503, "HOST must come before USER."}
	replySiteUsage      = reply{501, "Usage: SITE CHMOD <octal mode> <path>"}
	replySiteHelp       = reply{214, "SITE CHMOD <octal mode> <path>"}
	replySiteChmod      = reply{200, "SITE CHMOD command successful"}
	replyChmodHome      = reply{550, "Permission denied: the mode of the home folder stays as it is."}

	// Data connections and transfers.
	replyTransferOpen     = reply{150, "Using transfer connection"}
	replyTransferDone     = reply{226, "Closing transfer connection"}
	replyNoDataConn       = reply{550, "Unable to open transfer: no transfer connection"}
	replyAborted          = reply{426, "Connection closed; transfer aborted"}
	replyAbortDone        = reply{226, "ABOR successful; closing transfer connection"}
	replyActiveOff        = reply{502, "Active mode is disabled: use PASV or EPSV."}
	replyOwnAddress       = reply{501, "Data connections must go to your own address."}
	replyPrivilegedPort   = reply{504, "Refusing data connections to ports below 1024."}
	replyPASVOverIPv6     = reply{522, "PASV cannot announce an IPv6 address: use EPSV."}
	replyRestASCII        = reply{501, "Resuming transfers not allowed in ASCII mode"}
	replyRestOK           = reply{350, "OK"}
	replyRenameFrom       = reply{350, "Sure, give me a target"}
	replyRenameSeq        = reply{503, "RNFR is expected before RNTO."}
	replyRenameNoSource   = reply{550, "RNFR failed: nothing to rename."}
	replyRenameDone       = reply{250, "Done !"}
	replyAlloDone         = reply{200, "Done !"}
	replyListFile         = reply{550, "Could not list: listing a file isn't allowed"}
	replyDataReuseMissing = reply{522, "TLS session reuse required: the data connection must resume the TLS session of a control connection from your address logged in as you; use a client that reuses TLS sessions, or set require_session_reuse = false."}
)

// permissionActions say what each permission allows, for the refusal that
// names it.
var permissionActions = map[perm.Perm]string{
	perm.List: "list folders or see file details", perm.Download: "download",
	perm.Upload: "upload new files", perm.Overwrite: "overwrite or append to files",
	perm.Delete: "delete", perm.Rename: "rename", perm.Mkdir: "create folders",
	perm.Rmdir: "remove folders", perm.Chmod: "change modes", perm.Mtime: "set modification times",
}

// permissionDenied refuses a command for the permission p it needs.
func permissionDenied(p perm.Perm) reply {
	return reply{550, "Permission denied: this account may not " + permissionActions[p] + " (permission \"" + p.String() + "\")."}
}
