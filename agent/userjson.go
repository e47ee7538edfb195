package agent

import (
	"encoding/json"
	"time"
)

// UserJSON is the one JSON form of an FTP account in every answer of ftpctl (user
// add, list, show and passwd, status): the account's name is always "user", as in
// install's answer.
type UserJSON struct {
	User     string `json:"user"`
	Home     string `json:"home"`
	Locked   bool   `json:"locked"`
	ReadOnly bool   `json:"read_only"`
	// LastPasswordChange is the day, "2006-01-02"; null when unknown.
	LastPasswordChange *string `json:"last_password_change"`
	// Password is there only when ftpctl generated it just now.
	Password string `json:"password,omitempty"`
}

// JSON is u in its JSON form, without a password.
func (u UserInfo) JSON() UserJSON {
	out := UserJSON{User: u.Name, Home: u.Home, Locked: u.Locked, ReadOnly: u.ReadOnly}
	if !u.PasswordChanged.IsZero() {
		d := u.PasswordChanged.Format(time.DateOnly)
		out.LastPasswordChange = &d
	}
	return out
}

// MarshalJSON writes the JSON form, so that a UserInfo inside a larger answer (status)
// has the same keys as on its own.
func (u UserInfo) MarshalJSON() ([]byte, error) { return json.Marshal(u.JSON()) }
