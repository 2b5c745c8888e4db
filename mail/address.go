package mail

import (
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"

	"golang.org/x/net/idna"
)

// Address is a parsed mailbox: a display name and an addr-spec.
type Address struct {
	Name    string
	Address string // local@domain, domain in Unicode (IDN) as the user typed it
}

func (a Address) String() string {
	return (&netmail.Address{Name: a.Name, Address: a.Address}).String()
}

// ASCIIDomain returns the address with its domain in A-label (punycode) form,
// for SMTP servers that do not offer SMTPUTF8.
func (a Address) ASCIIDomain() (string, error) {
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok {
		return "", fmt.Errorf("%q has no @", a.Address)
	}
	d, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("domain %q: %w", domain, err)
	}
	return local + "@" + d, nil
}

// ParseAddress parses one mailbox ("Bob <bob@example.com>" or
// "bob@example.com"), checks the domain as an IDN host name, and refuses
// control characters that could smuggle header lines.
func ParseAddress(s string) (Address, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Address{}, errors.New("empty address")
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return Address{}, fmt.Errorf("%q: control characters are not allowed in an address", s)
	}
	p := netmail.AddressParser{}
	a, err := p.Parse(s)
	if err != nil {
		return Address{}, fmt.Errorf("%q is not a valid address: %w", s, err)
	}
	_, domain, _ := strings.Cut(a.Address, "@")
	if !strings.Contains(domain, ".") && domain != "localhost" {
		return Address{}, fmt.Errorf("%q: domain %q has no dot", s, domain)
	}
	if _, err := idna.Lookup.ToASCII(domain); err != nil {
		return Address{}, fmt.Errorf("%q: domain %q is not a valid host name: %v", s, domain, err)
	}
	return Address{Name: a.Name, Address: a.Address}, nil
}

// ParseAddressList parses a comma-separated list; an empty string is an
// empty list. The error names the first bad entry.
func ParseAddressList(s string) ([]Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return nil, errors.New("control characters are not allowed in an address list")
	}
	p := netmail.AddressParser{}
	list, err := p.ParseList(s)
	if err != nil {
		// Re-parse piece by piece so the error names the culprit.
		for _, part := range strings.Split(s, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			if _, perr := ParseAddress(part); perr != nil {
				return nil, perr
			}
		}
		return nil, fmt.Errorf("invalid address list: %w", err)
	}
	out := make([]Address, 0, len(list))
	for _, a := range list {
		pa, err := ParseAddress(a.String())
		if err != nil {
			return nil, err
		}
		out = append(out, pa)
	}
	return out, nil
}
