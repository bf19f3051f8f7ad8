"""mkcert.py OUTDIR NAME NB_SECONDS NA_SECONDS [--ca CA_DIR] [--self-ca]
A node certificate for NAME (or with --self-ca a new CA named NAME) valid from now+NB to now+NA seconds
(negative = past), signed by CA_DIR/ca.pem + ca.key (default certs.orig). Writes OUTDIR/NAME.pem, NAME.key."""
import sys, os, datetime
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
out, name, nb, na = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
cadir = sys.argv[sys.argv.index("--ca") + 1] if "--ca" in sys.argv else "certs.orig"
selfca = "--self-ca" in sys.argv
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
k = ec.generate_private_key(ec.SECP256R1())
subj = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
b = (x509.CertificateBuilder().subject_name(subj).public_key(k.public_key()).serial_number(x509.random_serial_number())
     .not_valid_before(now + datetime.timedelta(seconds=nb)).not_valid_after(now + datetime.timedelta(seconds=na))
     .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), False))
if selfca:
    b = (b.issuer_name(subj).add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
         .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), True))
    c = b.sign(k, hashes.SHA256())
else:
    ca = x509.load_pem_x509_certificate(open(cadir + "/ca.pem", "rb").read())
    cak = serialization.load_pem_private_key(open(cadir + "/ca.key", "rb").read(), None)
    b = (b.issuer_name(ca.subject).add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
         .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(cak.public_key()), False))
    c = b.sign(cak, hashes.SHA256())
os.makedirs(out, exist_ok=True)
fn = "ca" if selfca and name.startswith("ca") else name
open(os.path.join(out, fn + ".pem"), "wb").write(c.public_bytes(serialization.Encoding.PEM))
open(os.path.join(out, fn + ".key"), "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
print("%s: not_before %s not_after %s" % (fn, c.not_valid_before_utc, c.not_valid_after_utc))
