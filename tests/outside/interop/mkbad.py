# Makes defective leaf certificates signed by the cluster CA (pki/ca.key)
import datetime, os
from cryptography import x509
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
D = os.path.dirname(os.path.abspath(__file__))
ca_key = serialization.load_pem_private_key(open(f"{D}/pki/ca.key","rb").read(), None)
ca = x509.load_pem_x509_certificate(open(f"{D}/pki/ca.pem","rb").read())
now = datetime.datetime.now(datetime.timezone.utc)
def mk(name, subject_attrs, nb=now-datetime.timedelta(hours=1), na=now+datetime.timedelta(days=30),
       eku=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH), ku=True, version3=True, san="a"):
    k = ec.generate_private_key(ec.SECP256R1())
    b = (x509.CertificateBuilder().subject_name(x509.Name(subject_attrs)).issuer_name(ca.subject)
         .public_key(k.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(nb).not_valid_after(na))
    if version3:
        if san: b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), False)
        if ku: b = b.add_extension(x509.KeyUsage(True,False,False,False,False,False,False,False,False), True)
        if eku: b = b.add_extension(x509.ExtendedKeyUsage(list(eku)), False)
        b = b.add_extension(x509.BasicConstraints(False, None), True)
    c = b.sign(ca_key, hashes.SHA256())
    open(f"{D}/bad/{name}.pem","wb").write(c.public_bytes(serialization.Encoding.PEM))
    open(f"{D}/bad/{name}.key","wb").write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
CN = lambda v: x509.NameAttribute(NameOID.COMMON_NAME, v)
mk("expired", [CN("a")], nb=now-datetime.timedelta(days=10), na=now-datetime.timedelta(days=1))
mk("notyet", [CN("a")], nb=now+datetime.timedelta(days=1), na=now+datetime.timedelta(days=10))
mk("nocn", [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "demo")])
mk("badcn", [CN("-a")])
mk("twocn", [CN("a"), CN("c")])
mk("noclientauth", [CN("a")], eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
mk("noku", [CN("a")], ku=False)
mk("v1", [CN("a")], version3=False)
