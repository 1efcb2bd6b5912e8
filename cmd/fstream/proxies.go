package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// prefixListValue is a flag holding a comma-separated list of CIDR
// prefixes; a bare address is its own prefix (/32 or /128). A bad entry is
// refused where it is set, with its file and line.
type prefixListValue struct{ p *[]netip.Prefix }

func (v prefixListValue) Type() string { return "cidrs" }

// Accepts says what Set takes, for the fix part of a bad value's message.
func (v prefixListValue) Accepts() string {
	return "addresses or CIDRs separated by commas, such as 127.0.0.1/32,::1/128"
}

func (v prefixListValue) String() string {
	s := make([]string, len(*v.p))
	for i, p := range *v.p {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

func (v prefixListValue) Set(s string) error {
	var list []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := parsePrefix(f)
		if err != nil {
			return err
		}
		list = append(list, p)
	}
	*v.p = list
	return nil
}

// parsePrefix parses "10.0.0.0/8", "::1/128" or a bare address.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}
