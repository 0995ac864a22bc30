import ssl, socket, threading, datetime as dt, tempfile, os
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from opengradient.client.tee_registry import build_ssl_context_from_der
now = dt.datetime.now(dt.timezone.utc)
def name(cn): return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
def cert(subj, key, issuer_name, issuer_key, ca, san=None, ku=None):
    b = (x509.CertificateBuilder().subject_name(name(subj)).issuer_name(issuer_name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san: b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return b.sign(issuer_key, hashes.SHA256())
ka = ec.generate_private_key(ec.SECP256R1())
ca = cert("ca", ka, name("ca"), ka, True)
kl = ec.generate_private_key(ec.SECP256R1())
leaf_by_ca = cert("leaf", kl, ca.subject, ka, False)
import ipaddress
self_ca_false = cert("127.0.0.1", kl, name("127.0.0.1"), kl, False, san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
self_ca_true = cert("127.0.0.1", kl, name("127.0.0.1"), kl, True)
def serve(chain, key):
    d = tempfile.mkdtemp(); cf = os.path.join(d, "c.pem"); kf = os.path.join(d, "k.pem")
    open(cf, "wb").write(b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain))
    open(kf, "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); sctx.load_cert_chain(cf, kf)
    ls = socket.socket(); ls.bind(("127.0.0.1", 0)); ls.listen(1)
    def run():
        c, _ = ls.accept()
        try: sctx.wrap_socket(c, server_side=True).close()
        except Exception: pass
    threading.Thread(target=run, daemon=True).start()
    return ls.getsockname()[1]
def trial(label, chain, pin):
    port = serve(chain, kl)
    ctx = build_ssl_context_from_der(pin.public_bytes(serialization.Encoding.DER))
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)); s.close(); print(label, "OK")
    except Exception as e: print(label, "FAIL", e)
trial("pin=leaf(CA-issued), serve leaf      :", [leaf_by_ca], leaf_by_ca)
trial("pin=leaf(CA-issued), serve leaf+ca   :", [leaf_by_ca, ca], leaf_by_ca)
trial("pin=CA root,         serve leaf      :", [leaf_by_ca], ca)
trial("pin=self-signed CA:FALSE, serve same :", [self_ca_false], self_ca_false)
trial("pin=self-signed CA:TRUE,  serve same :", [self_ca_true], self_ca_true)
