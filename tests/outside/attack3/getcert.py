"""getcert.py PORT: TLS-connect to a reign node as member b and print the serial and not-after of the certificate it presents."""
import ssl, socket, sys
from cryptography import x509
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.minimum_version = ssl.TLSVersion.TLSv1_3; ctx.load_cert_chain("certs.orig/b.pem", "certs.orig/b.key"); ctx.set_alpn_protocols(["reign/1"])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
c = x509.load_der_x509_certificate(s.getpeercert(binary_form=True))
print("presented: serial %x not_after %s" % (c.serial_number, c.not_valid_after_utc)); s.close()
