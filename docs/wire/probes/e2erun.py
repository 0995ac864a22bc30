"""Mini end-to-end: unmodified og.LLM against a fake registry RPC + HTTPS upto-x402 gateway."""
import asyncio, base64, datetime as dt, ipaddress, json, os, ssl, tempfile, threading, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, padding
from eth_abi import encode
from eth_utils import keccak
from eth_account import Account

FAC = Account.from_key("0x" + "44" * 32)
PAYTO = "0x" + "22" * 20
OPG = "0xFbC2051AE2265686a469421b2C5A2D5462FbF5eB"
now = dt.datetime.now(dt.timezone.utc)
tls_key = ec.generate_private_key(ec.SECP256R1())
nm = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
cert = (x509.CertificateBuilder().subject_name(nm).issuer_name(nm).public_key(tls_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(tls_key, hashes.SHA256()))
sign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
spki = sign_key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
TEE_ID = "0x" + keccak(spki).hex()
LOG = []

def sign(canon, content):
    rh = keccak(json.dumps(canon, sort_keys=True).encode()); oh = keccak(content.encode()); ts = int(time.time())
    sig = sign_key.sign(keccak(rh + oh + ts.to_bytes(32, "big")), padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32), hashes.SHA256())
    return {"tee_signature": base64.b64encode(sig).decode(), "tee_request_hash": "0x" + rh.hex(), "tee_output_hash": "0x" + oh.hex(), "tee_timestamp": ts, "tee_id": TEE_ID}

SESSIONS = {}
class GW(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        LOG.append((self.path, {k: (v[:40] + "…" if len(v) > 40 else v) for k, v in self.headers.items()}, body))
        sess = self.headers.get("X-Upto-Session"); pay = self.headers.get("PAYMENT-SIGNATURE")
        if not (sess in SESSIONS or pay):
            pr = {"x402Version": 2, "accepts": [{"scheme": "upto", "network": "eip155:8453", "asset": OPG, "amount": "50000000000000000",
                  "payTo": PAYTO, "maxTimeoutSeconds": 300, "extra": {"assetTransferMethod": "permit2", "facilitatorAddress": FAC.address}}]}
            b = b"{}"; self.send_response(402); self.send_header("PAYMENT-REQUIRED", base64.b64encode(json.dumps(pr).encode()).decode())
            self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(b))); self.end_headers(); self.wfile.write(b); return
        if pay:
            from x402.http.utils import decode_payment_signature_header
            from x402.mechanisms.evm.types import UptoPermit2Payload
            from x402.mechanisms.evm.upto.facilitator.permit2 import verify_upto_permit2
            sys_path = __import__("sys").path; sys_path.insert(0, "/tmp")
            from x402verify_stub import StubSigner
            p = decode_payment_signature_header(pay)
            v = verify_upto_permit2(StubSigner(FAC.address), p, p.accepted, UptoPermit2Payload.from_dict(p.payload), None, simulate=False)
            LOG.append(("verify", v.is_valid, v.invalid_reason))
            sess = str(uuid.uuid4()); SESSIONS[sess] = p
        content = "hello from devnet"
        canon = {"model": body["model"], "messages": body.get("messages", []), "temperature": float(body.get("temperature", 0.0)), "max_tokens": body.get("max_tokens")}
        proof = sign(canon, content)
        if self.path == "/v1/completions":
            out = json.dumps({"completion": content, **proof}).encode(); ctype = "application/json"
        elif body.get("stream"):
            frames = [{"choices": [{"index": 0, "delta": {"role": "assistant", "content": "hello "}, "finish_reason": None}], "model": body["model"]},
                      {"choices": [{"index": 0, "delta": {"content": "from devnet"}, "finish_reason": None}], "model": body["model"]},
                      {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "model": body["model"], "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}, **proof}]
            out = b"".join(b"data: " + json.dumps(f).encode() + b"\n\n" for f in frames) + b"data: [DONE]\n\n"; ctype = "text/event-stream"
        else:
            out = json.dumps({"id": "x", "object": "chat.completion", "model": body["model"], "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 3, "completion_tokens": 3, "total_tokens": 6}, **proof}).encode(); ctype = "application/json"
        self.send_response(200); self.send_header("Content-Type", ctype); self.send_header("X-Upto-Session", sess)
        self.send_header("X-Settlement-Tx-Hash", "0x" + "ab" * 32); self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)

gw = ThreadingHTTPServer(("127.0.0.1", 0), GW)
d = tempfile.mkdtemp(); cf, kf = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
open(cf, "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(kf, "wb").write(tls_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
sc = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); sc.load_cert_chain(cf, kf); gw.socket = sc.wrap_socket(gw.socket, server_side=True)
threading.Thread(target=gw.serve_forever, daemon=True).start()
ENDPOINT = f"https://127.0.0.1:{gw.server_address[1]}"

TEE_T = "(address,address,string,bytes,bytes,bytes32,uint8,bool,uint256,uint256,(uint8,uint16,uint16,uint16,bytes,bytes,uint256))[]"
class RPC(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"]))); m = req["method"]; LOG.append(("rpc", m, req["params"][0].get("data", "")[:10] if m == "eth_call" else ""))
        if m == "eth_chainId": res = hex(10744)
        elif m == "eth_call":
            t = int(time.time())
            res = "0x" + encode([TEE_T], [[(FAC.address, PAYTO, ENDPOINT, spki, cert.public_bytes(serialization.Encoding.DER), b"\x11" * 32, 0, True, t, t, (0, 0, 0, 0, b"", b"", 0))]]).hex()
        else: res = None
        out = json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": res}).encode()
        self.send_response(200); self.send_header("Content-Type", "application/json"); self.send_header("Content-Length", str(len(out))); self.end_headers(); self.wfile.write(out)
rpc = ThreadingHTTPServer(("127.0.0.1", 0), RPC); threading.Thread(target=rpc.serve_forever, daemon=True).start()

import opengradient as og
from opengradient.client.tee_verify import build_inner_request, verify_response, pem_from_der
async def main():
    llm = og.LLM(private_key="0x" + "11" * 32, rpc_url=f"http://127.0.0.1:{rpc.server_address[1]}")
    msgs = [{"role": "user", "content": "hi"}]
    r = await llm.chat(model=og.TEE_LLM.GPT_5, messages=msgs, max_tokens=50)
    print("chat:", r.chat_output, r.finish_reason, "tee_id=", r.tee_id, "pay=", r.tee_payment_address, "settle=", r.data_settlement_transaction_hash, "ts=", r.tee_timestamp)
    r2 = await llm.completion(model=og.TEE_LLM.CLAUDE_HAIKU_4_5, prompt="hi")
    print("completion:", r2.completion_output)
    s = await llm.chat(model=og.TEE_LLM.GPT_5, messages=msgs, stream=True)
    async for c in s: print("chunk:", c.choices[0].delta.content, c.is_final, c.finish_reason if False else c.choices[0].finish_reason, c.usage, (c.tee_signature or "")[:10], c.tee_id)
    await llm.close()
asyncio.run(main())
for e in LOG: print(e)
