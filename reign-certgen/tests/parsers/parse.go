// Parses certificates and CRLs with Go's crypto/x509, for reign-certgen's interop tests
// (tests/interop.rs runs it with `go run`). Only the standard library: it builds offline.
//
// Usage: go run parse.go CA.pem FILE...
//
// The first file is the CA; every file (the CA too) is parsed and checked against it, and
// one line per certificate, CRL and CRL entry is printed:
//
//	cert NAME ca=BOOL bc=critical|noncritical|absent pathlen=N|none serial=HEX ext=N signed-by-ca=yes|no
//	crl NAME number=N revoked=N ext=N signed-by-ca=yes|no
//	entry NAME SERIAL reason=NAME|none ext=N
//
// NAME is the file's base name, HEX lowercase without leading zero bytes. The exit status
// is 1, with the file and the parser's reason on stderr, when anything does not parse.
package main

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
)

var (
	oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidReasonCode       = asn1.ObjectIdentifier{2, 5, 29, 21}
	// RFC 5280 section 5.3.1, by code (7 is unused).
	reasons = []string{"unspecified", "keyCompromise", "cACompromise", "affiliationChanged",
		"superseded", "cessationOfOperation", "certificateHold", "7", "removeFromCRL",
		"privilegeWithdrawn", "aACompromise"}
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go run parse.go CA.pem FILE...")
		os.Exit(2)
	}
	ca, err := firstCert(os.Args[1])
	if err != nil {
		fail(os.Args[1], err)
	}
	for _, path := range os.Args[1:] {
		if err := parseFile(path, ca); err != nil {
			fail(path, err)
		}
	}
}

func fail(path string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
	os.Exit(1)
}

func firstCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("no CERTIFICATE section")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseFile(path string, ca *x509.Certificate) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	name := filepath.Base(path)
	sections := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		sections++
		switch block.Type {
		case "CERTIFICATE":
			err = parseCert(name, block.Bytes, ca)
		case "X509 CRL":
			err = parseCrl(name, block.Bytes, ca)
		default:
			err = fmt.Errorf("unexpected PEM section %q", block.Type)
		}
		if err != nil {
			return err
		}
	}
	if sections == 0 {
		return fmt.Errorf("no PEM section")
	}
	return nil
}

func parseCert(name string, der []byte, ca *x509.Certificate) error {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	bc := "absent"
	for _, e := range c.Extensions {
		if e.Id.Equal(oidBasicConstraints) {
			bc = "noncritical"
			if e.Critical {
				bc = "critical"
			}
		}
	}
	pathlen := "none"
	if c.IsCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) {
		pathlen = fmt.Sprint(c.MaxPathLen)
	}
	signed := "no"
	if c.CheckSignatureFrom(ca) == nil {
		signed = "yes"
	}
	fmt.Printf("cert %s ca=%t bc=%s pathlen=%s serial=%s ext=%d signed-by-ca=%s\n",
		name, c.IsCA, bc, pathlen, hex(c.SerialNumber), len(c.Extensions), signed)
	return nil
}

func parseCrl(name string, der []byte, ca *x509.Certificate) error {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return err
	}
	signed := "no"
	if crl.CheckSignatureFrom(ca) == nil {
		signed = "yes"
	}
	fmt.Printf("crl %s number=%s revoked=%d ext=%d signed-by-ca=%s\n",
		name, crl.Number.String(), len(crl.RevokedCertificates), len(crl.Extensions), signed)
	for _, r := range crl.RevokedCertificates {
		reason := "none"
		for _, e := range r.Extensions {
			if !e.Id.Equal(oidReasonCode) {
				continue
			}
			var code asn1.Enumerated
			rest, err := asn1.Unmarshal(e.Value, &code)
			if err != nil || len(rest) != 0 || code < 0 || int(code) >= len(reasons) {
				return fmt.Errorf("entry %s: bad reasonCode %x", hex(r.SerialNumber), e.Value)
			}
			reason = reasons[code]
		}
		fmt.Printf("entry %s %s reason=%s ext=%d\n", name, hex(r.SerialNumber), reason, len(r.Extensions))
	}
	return nil
}

// hex is lowercase hex of whole bytes: an even number of digits, no leading zero byte.
func hex(n *big.Int) string {
	s := n.Text(16)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}
