# intermediate-CA chains and a stale CRL, signed by the cluster CA key (pki/ca.key)
import datetime, os
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
D = os.path.dirname(os.path.abspath(__file__))
ca_key = serialization.load_pem_private_key(open(f"{D}/pki/ca.key","rb").read(), None)
ca = x509.load_pem_x509_certificate(open(f"{D}/pki/ca.pem","rb").read())
now = datetime.datetime.now(datetime.timezone.utc); H = datetime.timedelta(hours=1); DAY = datetime.timedelta(days=1)
pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
def inter(name, nb, na):
    k = ec.generate_private_key(ec.SECP256R1())
    c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).issuer_name(ca.subject)
         .public_key(k.public_key()).serial_number(x509.random_serial_number()).not_valid_before(nb).not_valid_after(na)
         .add_extension(x509.BasicConstraints(True, 0), True)
         .add_extension(x509.KeyUsage(True,False,False,False,False,True,True,False,False), True)
         .add_extension(x509.SubjectKeyIdentifier.from_public_key(k.public_key()), False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
         .sign(ca_key, hashes.SHA256()))
    return c, k
def leaf(cn, ic, ik, name):
    k = ec.generate_private_key(ec.SECP256R1())
    c = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])).issuer_name(ic.subject)
         .public_key(k.public_key()).serial_number(x509.random_serial_number()).not_valid_before(now-H).not_valid_after(now+30*DAY)
         .add_extension(x509.SubjectAlternativeName([x509.DNSName(cn)]), False)
         .add_extension(x509.KeyUsage(True,False,False,False,False,False,False,False,False), True)
         .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), False)
         .add_extension(x509.BasicConstraints(False, None), True)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ik.public_key()), False)
         .sign(ik, hashes.SHA256()))
    open(f"{D}/bad/{name}.pem","wb").write(pem(c) + pem(ic))
    open(f"{D}/bad/{name}.key","wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
ic, ik = inter("demo-int", now-H, now+100*DAY); leaf("a", ic, ik, "via_int")
ic2, ik2 = inter("demo-int-old", now-100*DAY, now-DAY); leaf("a", ic2, ik2, "via_expired_int")
# stale CRL (nextUpdate passed) revoking r
r = x509.load_pem_x509_certificate(open(f"{D}/pki/r.pem","rb").read())
crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject).last_update(now-40*DAY).next_update(now-10*DAY)
       .add_revoked_certificate(x509.RevokedCertificateBuilder().serial_number(r.serial_number).revocation_date(now-40*DAY).build())
       .add_extension(x509.CRLNumber(7), False)
       .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False)
       .sign(ca_key, hashes.SHA256()))
open(f"{D}/bad/stale_crl.pem","wb").write(crl.public_bytes(serialization.Encoding.PEM))
