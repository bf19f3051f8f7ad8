"""Parses certificates and CRLs with pyca/cryptography, for reign-certgen's interop tests
(tests/interop.rs runs it with python3).

Usage: python3 parse.py CA.pem FILE...

The first file is the CA; every file (the CA too) is parsed, every extension of every
certificate, CRL and CRL entry is decoded, signatures are checked against the CA, and one
line per certificate, CRL and CRL entry is printed, the same lines as parse.go:

    cert NAME ca=BOOL bc=critical|noncritical|absent pathlen=N|none serial=HEX ext=N signed-by-ca=yes|no
    crl NAME number=N revoked=N ext=N signed-by-ca=yes|no
    entry NAME SERIAL reason=NAME|none ext=N

NAME is the file's base name, HEX lowercase without leading zero bytes. The exit status is
1, with the file and the parser's reason on stderr, when anything does not parse.
"""

import os
import re
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

SECTION = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.S)


def hexs(n):
    s = format(n, "x")
    return "0" + s if len(s) % 2 else s


def signed_by(ca, sig, tbs, hash_alg):
    """Whether `sig` over `tbs` verifies with the CA's key (any cryptography version)."""
    key = ca.public_key()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, tbs, ec.ECDSA(hash_alg))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, tbs)
        else:
            raise ValueError("unexpected CA key type %s" % type(key).__name__)
    except InvalidSignature:
        return "no"
    return "yes"


def extensions(exts):
    """Decodes every extension (reading .value parses it) and counts them."""
    n = 0
    for ext in exts:
        ext.value
        n += 1
    return n


def cert_line(name, pem, ca):
    c = x509.load_pem_x509_certificate(pem)
    n = extensions(c.extensions)
    try:
        bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
        is_ca = bc.value.ca
        crit = "critical" if bc.critical else "noncritical"
        pathlen = "none" if bc.value.path_length is None else str(bc.value.path_length)
    except x509.ExtensionNotFound:
        is_ca, crit, pathlen = False, "absent", "none"
    signed = "no"
    if c.issuer == ca.subject:
        signed = signed_by(ca, c.signature, c.tbs_certificate_bytes, c.signature_hash_algorithm)
    print("cert %s ca=%s bc=%s pathlen=%s serial=%s ext=%d signed-by-ca=%s"
          % (name, str(is_ca).lower(), crit, pathlen, hexs(c.serial_number), n, signed))


def crl_lines(name, pem, ca):
    crl = x509.load_pem_x509_crl(pem)
    n = extensions(crl.extensions)
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    signed = "no"
    if crl.issuer == ca.subject:
        # Not crl.is_signature_valid: before cryptography 39 it refuses Ed25519 keys.
        signed = signed_by(ca, crl.signature, crl.tbs_certlist_bytes, crl.signature_hash_algorithm)
    entries = list(crl)
    print("crl %s number=%d revoked=%d ext=%d signed-by-ca=%s" % (name, number, len(entries), n, signed))
    for entry in entries:
        m = extensions(entry.extensions)
        try:
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
        except x509.ExtensionNotFound:
            reason = "none"
        print("entry %s %s reason=%s ext=%d" % (name, hexs(entry.serial_number), reason, m))


def parse_file(path, ca):
    data = open(path, "rb").read()
    name = os.path.basename(path)
    sections = list(SECTION.finditer(data))
    if not sections:
        raise ValueError("no PEM section")
    for m in sections:
        label = m.group(1)
        if label == b"CERTIFICATE":
            cert_line(name, m.group(0), ca)
        elif label == b"X509 CRL":
            crl_lines(name, m.group(0), ca)
        else:
            raise ValueError("unexpected PEM section %r" % label.decode())


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: python3 parse.py CA.pem FILE...\n")
        sys.exit(2)
    ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
    for path in sys.argv[1:]:
        try:
            parse_file(path, ca)
        except Exception as e:  # the file and the parser's reason, one line
            sys.stderr.write("%s: %s: %s\n" % (path, type(e).__name__, e))
            sys.exit(1)


if __name__ == "__main__":
    main()
