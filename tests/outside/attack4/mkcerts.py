"""Forge certificates for the CERT_UPDATE attacks (pyca/cryptography), from the cluster CA
made by reign-certgen in certs/ (ca.pem, ca.key). Writes certs/forge/<name>.pem/.key.
Profile copied from docs/SECURITY.md "Certificate profiles": digitalSignature (critical),
EKU serverAuth+clientAuth, SAN DNS = node ID, SKI/AKI, basicConstraints empty (critical)."""
import datetime as dt, os, sys
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

D = os.path.join(os.path.dirname(os.path.abspath(__file__)), "certs")
F = os.path.join(D, "forge")
os.makedirs(F, exist_ok=True)
now = dt.datetime.now(dt.timezone.utc)


def load(name):
    cert = x509.load_pem_x509_certificate(open(os.path.join(D, name + ".pem"), "rb").read())
    key = serialization.load_pem_private_key(open(os.path.join(D, name + ".key"), "rb").read(), None)
    return cert, key


def write(name, certs, key):
    with open(os.path.join(F, name + ".pem"), "wb") as f:
        for c in certs:
            f.write(c.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(F, name + ".key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    print(name, "serial %x" % certs[0].serial_number, "notAfter", certs[0].not_valid_after_utc)


def leaf(cn, issuer_cert, issuer_key, key=None, nb=None, na=None, ku=True, eku=(True, True),
         ca=False, version3=True, san=True, algo=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder()
         .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
         .issuer_name(issuer_cert.subject)
         .public_key(key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(nb or now - dt.timedelta(minutes=5))
         .not_valid_after(na or now + dt.timedelta(days=30)))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                            key_encipherment=False, data_encipherment=False, key_agreement=False,
                            key_cert_sign=True, crl_sign=True, encipher_only=False,
                            decipher_only=False), critical=True)
    else:
        b = b.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        if ku:
            b = b.add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                key_encipherment=False, data_encipherment=False, key_agreement=False,
                                key_cert_sign=False, crl_sign=False, encipher_only=False,
                                decipher_only=False), critical=True)
    ek = []
    if eku[0]:
        ek.append(ExtendedKeyUsageOID.SERVER_AUTH)
    if eku[1]:
        ek.append(ExtendedKeyUsageOID.CLIENT_AUTH)
    if ek:
        b = b.add_extension(x509.ExtendedKeyUsage(ek), critical=False)
    if san:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), critical=False)
    b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                        critical=False)
    h = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else (algo or hashes.SHA256())
    return b.sign(issuer_key, h), key


def selfca(name, key=None):
    key = key or ec.generate_private_key(ec.SECP256R1())
    subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    c = (x509.CertificateBuilder().subject_name(subj).issuer_name(subj).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=365))
         .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
         .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                        key_encipherment=False, data_encipherment=False, key_agreement=False,
                        key_cert_sign=True, crl_sign=True, encipher_only=False,
                        decipher_only=False), critical=True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
         .sign(key, hashes.SHA256()))
    return c, key


ca, cak = load("ca")
what = sys.argv[1:] or ["all"]

if "all" in what:
    for i in range(1, 6):
        c, k = leaf("a", ca, cak); write("a_new%d" % i, [c], k)
    c, k = leaf("a", ca, cak, key=load("a")[1]); write("a_samekey", [c], k)
    c, k = leaf("b", ca, cak); write("b_other", [c], k)
    c, k = leaf("h", ca, cak); write("h_other", [c], k)
    c, k = leaf("z", ca, cak); write("z_nonmember", [c], k)
    oc, ok = selfca("demo"); c, k = leaf("a", oc, ok); write("a_otherca_samename", [c], k)
    oc2, ok2 = selfca("other"); c, k = leaf("a", oc2, ok2); write("a_otherca", [c], k)
    write("othercaA", [oc2], ok2)
    c, k = leaf("a", ca, cak, nb=now - dt.timedelta(days=10), na=now - dt.timedelta(days=1)); write("a_expired", [c], k)
    c, k = leaf("a", ca, cak, nb=now + dt.timedelta(days=1), na=now + dt.timedelta(days=10)); write("a_notyet", [c], k)
    c, k = leaf("a", ca, cak); write("a_torevoke", [c], k)
    write("ca_as_leaf", [ca], cak)
    c, k = leaf("a", ca, cak, ca=True); write("a_is_ca", [c], k)
    c, k = leaf("a", ca, cak, eku=(True, False)); write("a_noclientauth", [c], k)
    c, k = leaf("a", ca, cak, ku=False); write("a_noku", [c], k)
    c, k = leaf("a..bad", ca, cak) if False else leaf("-a", ca, cak); write("a_badcn", [c], k)
    # intermediate chain: leaf a <- inter <- ca
    ic, ik = leaf("inter", ca, cak, ca=True)
    c, k = leaf("a", ic, ik); write("a_via_inter", [c, ic], k)
    write("a_via_inter_noint", [c], k)
    c, k = leaf("a", ca, cak, key=ed25519.Ed25519PrivateKey.generate()); write("a_ed25519", [c], k)
    c, k = leaf("a", ca, cak, key=rsa.generate_private_key(65537, 2048)); write("a_rsa", [c], k)
    c, k = leaf("a", ca, cak, key=ec.generate_private_key(ec.SECP384R1())); write("a_p384", [c], k)
    # short-lived new cert (ends in 40 s)
if "short" in what:
    c, k = leaf("a", ca, cak, na=now + dt.timedelta(seconds=int(os.environ.get("SECS", "40")))); write("a_short", [c], k)
if "shorttls" in what:
    c, k = leaf("a", ca, cak, na=now + dt.timedelta(seconds=int(os.environ.get("SECS", "40")))); write("a_shorttls", [c], k)
if "crl" in what:
    # CRL listing the serials given in env SERIALS (hex, comma separated)
    b = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
         .last_update(now - dt.timedelta(minutes=1)).next_update(now + dt.timedelta(days=7)))
    for s in filter(None, os.environ.get("SERIALS", "").split(",")):
        b = b.add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(int(s, 16))
                                      .revocation_date(now - dt.timedelta(minutes=1)).build())
    b = b.add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
    b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(cak.public_key()), critical=False)
    crl = b.sign(cak, hashes.SHA256())
    open(os.environ.get("OUT", os.path.join(D, "crl.pem")), "wb").write(crl.public_bytes(serialization.Encoding.PEM))
    print("crl with", os.environ.get("SERIALS"))
