import asyncio, json, base64
from opengradient.client.llm import LLM
from x402.schemas import PaymentRequired, PaymentRequirements
from x402.http.x402_http_client import x402HTTPClient
KEY = "0x" + "11"*32
c = LLM._build_x402_client(KEY)
print("registered:", c.get_registered_schemes()[2])
OPG = "0xFbC2051AE2265686a469421b2C5A2D5462FbF5eB"
def req(scheme, extra):
    return PaymentRequirements(scheme=scheme, network="eip155:8453", asset=OPG, amount="1000000000000000",
        pay_to="0x" + "22"*20, max_timeout_seconds=300, extra=extra)
async def main():
    for scheme, extra in [("exact", {"name": "OPG", "version": "1"}),
                          ("exact", {"assetTransferMethod": "permit2"}),
                          ("upto", {"assetTransferMethod": "permit2", "facilitatorAddress": "0x" + "33"*20})]:
        pr = PaymentRequired(accepts=[req(scheme, extra)], resource={"url": "https://127.0.0.1/v1/chat/completions"})
        p = await c.create_payment_payload(pr)
        h = x402HTTPClient(c).encode_payment_signature_header(p)
        name, val = next(iter(h.items()))
        print("==", scheme, extra, "header:", name)
        print(json.dumps(json.loads(base64.b64decode(val)), indent=1))
    # what a 402 header looks like
    from x402.http.utils import encode_payment_required_header
    print("PAYMENT-REQUIRED json:", base64.b64decode(encode_payment_required_header(PaymentRequired(accepts=[req("upto", {"assetTransferMethod":"permit2","facilitatorAddress":"0x"+"33"*20})]))).decode())
asyncio.run(main())
