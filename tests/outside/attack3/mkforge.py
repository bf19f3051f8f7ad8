"""mkforge.py: a certificate for node b signed by member a's leaf key (a.key), issuer = a's subject -> certsForge/b.pem,b.key"""
import datetime, os
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
a_cert = x509.load_pem_x509_certificate(open("certs.orig/a.pem", "rb").read())
a_key = serialization.load_pem_private_key(open("certs.orig/a.key", "rb").read(), None)
k = ec.generate_private_key(ec.SECP256R1())
now = datetime.datetime.now(datetime.timezone.utc)
c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "b")]))
     .issuer_name(a_cert.subject).public_key(k.public_key()).serial_number(x509.random_serial_number())
     .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=30))
     .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
     .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), True)
     .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
     .add_extension(x509.SubjectAlternativeName([x509.DNSName("b")]), False)
     .sign(a_key, hashes.SHA256()))
os.makedirs("certsForge", exist_ok=True)
open("certsForge/b.pem", "wb").write(c.public_bytes(serialization.Encoding.PEM))
open("certsForge/b.key", "wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open("certsForge/ca.pem", "wb").write(open("certs.orig/ca.pem", "rb").read())
