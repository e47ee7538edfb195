// Package allowfrom holds the client addresses an FTP account may log in from: single
// addresses and CIDR blocks, IPv4 and IPv6. The monitor checks them before it looks at
// the password.
package allowfrom

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// List is a set of address blocks. The nil List admits every address.
type List []netip.Prefix

// Any is the word that stands for the nil List.
const Any = "any"

// Parse reads comma-separated addresses and CIDR blocks, or "any". A block with bits
// set beyond its length (10.0.0.1/8) is refused rather than guessed at, and IPv4
// written as IPv6 (::ffff:10.0.0.1) is stored as IPv4, the form the monitor compares.
func Parse(text string) (List, error) {
	text = strings.TrimSpace(text)
	if text == Any {
		return nil, nil
	}
	if text == "" {
		return nil, errors.New(`the address list is empty; give addresses or CIDR blocks, or "any"`)
	}
	var out List
	for _, field := range strings.Split(text, ",") {
		p, err := ParseOne(strings.TrimSpace(field))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// ParseOne reads one address or CIDR block.
func ParseOne(s string) (netip.Prefix, error) {
	if s == Any {
		return netip.Prefix{}, errors.New(`"any" stands alone: it already admits every address`)
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR block (such as 192.0.2.7, 10.0.0.0/8 or 2001:db8::/32)", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR block (such as 192.0.2.7, 10.0.0.0/8 or 2001:db8::/32)", s)
	}
	if p.Addr().Is4In6() {
		if p.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q mixes IPv4-mapped and shorter IPv6 blocks; write the IPv4 block itself", s)
		}
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has address bits set beyond its /%d; did you mean %s?", s, p.Bits(), p.Masked())
	}
	return p, nil
}

// Admits reports whether addr may log in.
func (l List) Admits(addr netip.Addr) bool {
	if l == nil {
		return true
	}
	addr = addr.Unmap()
	for _, p := range l {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// Strings writes each block, a single address without its /32 or /128.
func (l List) Strings() []string {
	out := make([]string, 0, len(l))
	for _, p := range l {
		if p.IsSingleIP() {
			out = append(out, p.Addr().String())
		} else {
			out = append(out, p.String())
		}
	}
	return out
}

// String is the form Parse reads: "any" for the nil List.
func (l List) String() string {
	if l == nil {
		return Any
	}
	return strings.Join(l.Strings(), ",")
}
