import asyncio, json
from opengradient.client.llm import LLM
from x402.schemas import PaymentRequired, PaymentRequirements
from x402.mechanisms.evm.types import UptoPermit2Payload, TransactionReceipt
from x402.mechanisms.evm.upto.facilitator.permit2 import verify_upto_permit2
from x402.mechanisms.evm.exact.permit2_utils import verify_permit2
from x402.mechanisms.evm.upto.facilitator.permit2_helpers import build_upto_permit2_settle_args
from eth_account import Account
from eth_account.messages import encode_typed_data

class StubSigner:
    """FacilitatorEvmSigner without RPC: EOA-only EIP-712 recovery, fixed allowance/balance."""
    def __init__(s, addr): s.addr = addr
    def get_addresses(s): return [s.addr]
    def get_code(s, a): return b""
    def read_contract(s, address, abi, fn, *args):
        print("   read_contract", address, fn, args[:2]); return 10**24
    def verify_typed_data(s, address, domain, types, primary, message, sig):
        dom = dict(domain)
        fmap = {"name":"string","version":"string","chainId":"uint256","verifyingContract":"address"}
        full = {"EIP712Domain":[{"name":k,"type":fmap[k]} for k in dom if k in fmap]}
        for t, fs in types.items(): full[t] = [{"name":f.name,"type":f.type} for f in fs]
        rec = Account.recover_message(encode_typed_data(full_message={"types":full,"primaryType":primary,"domain":dom,"message":message}), signature=sig)
        return rec.lower() == address.lower()

KEY = "0x" + "11"*32
FAC = Account.from_key("0x"+"44"*32).address
c = LLM._build_x402_client(KEY)
OPG = "0xFbC2051AE2265686a469421b2C5A2D5462FbF5eB"
async def main():
    for scheme, extra in [("upto", {"assetTransferMethod":"permit2","facilitatorAddress":FAC}), ("exact", {"assetTransferMethod":"permit2"})]:
        r = PaymentRequirements(scheme=scheme, network="eip155:8453", asset=OPG, amount="5000", pay_to="0x"+"22"*20, max_timeout_seconds=300, extra=extra)
        p = await c.create_payment_payload(PaymentRequired(accepts=[r]))
        s = StubSigner(FAC)
        if scheme == "upto":
            v = verify_upto_permit2(s, p, r, UptoPermit2Payload.from_dict(p.payload), None, simulate=False)
            print(scheme, "verify(simulate=False):", v)
            a = build_upto_permit2_settle_args(UptoPermit2Payload.from_dict(p.payload), 1234)
            print("   settle args:", a.permit_tuple, a.settlement_amount, a.owner, a.witness_tuple, len(a.signature))
        else:
            print(scheme, "verify:", verify_permit2(s, p, r))
        # tamper: wrong chain
        bad = r.model_copy(update={"network":"eip155:10744"}); 
        p2 = p.model_copy(update={"accepted": bad})
asyncio.run(main())
