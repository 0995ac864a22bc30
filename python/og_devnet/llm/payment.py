"""x402 payment for one LLM gateway, in the devnet's OPG token on the devnet's "Base".

The flow `og.LLM`'s x402 client expects (docs/wire/og-llm-sdk-1.1.4.md §2.3-2.5, §6):

1. An unpaid request gets 402 with a `PAYMENT-REQUIRED` header: one `upto` requirement on
   `eip155:8453`, asset the OPG token, `amount` the cap (economics `llmPaymentCap`), `payTo`
   the TEE's payment address, `extra.facilitatorAddress` this gateway's facilitator account.
2. The client retries with `PAYMENT-SIGNATURE`: a Permit2 `PermitWitnessTransferFrom` for the
   cap, spender the x402 upto proxy. The gateway checks it with the x402 package's own
   verifier (`verify_upto_permit2`, offline), then on the devnet: the payer's OPG balance and
   allowance to Permit2 cover the cap, and the permit's nonce is unused.
3. The answer is generated; only then is the permit settled, for what the answer cost
   (prompt and completion tokens at the genesis prices, at most the cap): the facilitator
   sends `settle` to the upto proxy, which has Permit2 move the OPG from the payer to `payTo`.
   The receipt's hash goes back in `PAYMENT-RESPONSE`. If the settlement fails the answer is
   not delivered, so no OPG moves without an answer and no answer goes out unpaid.

Each permit pays for one answer: its nonce is spent by the settlement, so the gateway offers
no `X-Upto-Session` and every request is a 402 → paid round trip (what `bench/llm_gateway.py`
measures). The facilitator accounts are derived from the devnet's mnemonic and funded with
gas at genesis.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from og_devnet._core import address_of_key
from og_devnet.base.genesis import OPG_TOKEN, PERMIT2, UPTO_PROXY

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from og_devnet.node import Node

NETWORK = "eip155:8453"
#: How long a signed permit stays valid (the client sets deadline = now + this).
MAX_TIMEOUT_SECONDS = 300
#: A settlement not in a block within this long fails the request (interval blocks are 0.5 s).
SETTLE_TIMEOUT_S = 30.0
SETTLE_GAS = 250_000
SUGGESTED_TIP = 1_000_000_000


class PaymentRefused(Exception):
    """The request is not (or no longer) paid: answered 402 with fresh requirements."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Permit:
    """A verified payment, reserved for one answer until it is settled or released."""

    payload: Any  # x402 PaymentPayload
    owner: str
    nonce: int
    cap: int


@dataclass
class Settled:
    tx_hash: str
    amount: int
    payer: str
    header: str  # PAYMENT-RESPONSE


def _word(value: int | str) -> str:
    return f"{int(value, 16) if isinstance(value, str) else value:064x}"


class DevnetSigner:
    """The x402 facilitator signer interface, answered in-process by the devnet: only what
    `verify_upto_permit2(simulate=False)` asks (its addresses, EIP-712 recovery, code)."""

    def __init__(self, node: Node, facilitator: str) -> None:
        self.node, self.facilitator = node, facilitator

    def get_addresses(self) -> list[str]:
        return [self.facilitator]

    def get_code(self, address: str) -> bytes:
        return bytes.fromhex(self.node.chain.code(address, "latest")[2:])

    def verify_typed_data(self, address: str, domain: Any, types: dict[str, Any], primary_type: str,
                          message: dict[str, Any], signature: bytes) -> bool:  # fmt: skip
        """An EOA's EIP-712 signature, recovered with eth_account as x402's own
        FacilitatorWeb3Signer does (x402's eip712.hash_typed_data has no nested structs, which
        Permit2's TokenPermissions and Witness are)."""
        from eth_account import Account
        from eth_account.messages import encode_typed_data

        domain_dict = domain if isinstance(domain, dict) else {
            k: v for k, v in (("name", domain.name), ("version", domain.version), ("chainId", domain.chain_id),
                              ("verifyingContract", domain.verifying_contract)) if v is not None}  # fmt: skip
        fields = {"name": "string", "version": "string", "chainId": "uint256", "verifyingContract": "address"}
        full_types = {"EIP712Domain": [{"name": k, "type": fields[k]} for k in domain_dict]}
        for name, items in types.items():
            full_types[name] = [f if isinstance(f, dict) else {"name": f.name, "type": f.type} for f in items]
        try:
            signable = encode_typed_data(full_message={"types": full_types, "primaryType": primary_type,
                                                       "domain": domain_dict, "message": message})  # fmt: skip
            return Account.recover_message(signable, signature=signature).lower() == address.lower()
        except Exception:
            return False


class Payments:
    """One gateway's x402 cashier: requirements, verification, settlement."""

    def __init__(self, node: Node, facilitator_key: bytes, pay_to: str) -> None:
        import json

        economics = json.loads(node.chain.economics_json())
        self.node, self.pay_to = node, pay_to
        self._key = facilitator_key
        self._account: LocalAccount | None = None  # made at the first settlement: eth_account loads in ~0.7 s
        self.facilitator = address_of_key(facilitator_key)
        self.cap = int(economics["llmPaymentCap"], 16)
        self.prompt_price = int(economics["llmPromptTokenPrice"], 16)
        self.completion_price = int(economics["llmCompletionTokenPrice"], 16)
        self.signer = DevnetSigner(node, self.facilitator)
        self._lock = threading.Lock()
        #: (owner, nonce) of permits verified and not yet settled or released.
        self._reserved: set[tuple[str, int]] = set()

    # ---- the 402 ----
    def requirements(self) -> Any:
        from x402.schemas import PaymentRequirements

        return PaymentRequirements(scheme="upto", network=NETWORK, asset=OPG_TOKEN, amount=str(self.cap),
                                   pay_to=self.pay_to, max_timeout_seconds=MAX_TIMEOUT_SECONDS,
                                   extra={"assetTransferMethod": "permit2", "facilitatorAddress": self.facilitator})  # fmt: skip

    def payment_required(self, url: str, error: str | None = None) -> tuple[dict[str, str], dict[str, Any]]:
        """The 402's headers and body. No `extensions`: any would make the client read Base."""
        from x402.http.utils import encode_payment_required_header
        from x402.schemas import PaymentRequired, ResourceInfo

        required = PaymentRequired(error=error, resource=ResourceInfo(url=url, description="og-devnet LLM answer"),
                                   accepts=[self.requirements()])  # fmt: skip
        body = required.model_dump(by_alias=True, exclude_none=True)
        return {"PAYMENT-REQUIRED": encode_payment_required_header(required)}, body

    # ---- verification ----
    def authorize(self, header: str | None) -> Permit:
        """The request's payment, verified and reserved; PaymentRefused otherwise."""
        from x402.http.utils import decode_payment_signature_header
        from x402.mechanisms.evm.types import UptoPermit2Payload
        from x402.mechanisms.evm.upto.facilitator.permit2 import verify_upto_permit2
        from x402.schemas import PaymentPayload

        if not header:
            raise PaymentRefused("payment_required", "this devnet LLM gateway is paid with x402 (OPG on the devnet)")
        try:
            payload = decode_payment_signature_header(header)
            if not isinstance(payload, PaymentPayload):
                raise ValueError("x402 version 1 payloads are not accepted; send version 2")
            permit2 = UptoPermit2Payload.from_dict(payload.payload)
        except Exception as e:
            raise PaymentRefused("invalid_payload", f"PAYMENT-SIGNATURE is not an x402 v2 upto payload: {e}"[:300]) from None
        requirements = self.requirements()
        accepted = payload.accepted
        if (accepted.scheme, accepted.network, accepted.asset.lower(), accepted.pay_to.lower(), accepted.amount) != (
            "upto", NETWORK, OPG_TOKEN.lower(), self.pay_to.lower(), str(self.cap)):  # fmt: skip
            raise PaymentRefused("requirements_mismatch", "the payment does not answer this gateway's requirements")
        verdict = verify_upto_permit2(self.signer, payload, requirements, permit2, None, simulate=False)
        if not verdict.is_valid:
            raise PaymentRefused(verdict.invalid_reason or "invalid_payment", verdict.invalid_message or
                                 f"the payment does not verify: {verdict.invalid_reason}")  # fmt: skip
        auth = permit2.permit2_authorization
        owner, nonce = auth.from_address, int(auth.nonce)
        self._check_clock(int(auth.deadline))
        self._check_funds(owner, nonce)
        with self._lock:
            if (owner.lower(), nonce) in self._reserved:
                raise PaymentRefused("nonce_in_use", "this permit already pays for another answer")
            self._reserved.add((owner.lower(), nonce))
        return Permit(payload, owner, nonce, self.cap)

    def _call(self, to: str, data: str) -> int:
        return int(self.node.chain.call({"to": to, "data": data}, "latest"), 16)

    def _check_clock(self, deadline: int) -> None:
        """Permits are signed against the wall clock and settled against the chain's (Permit2
        checks the block's timestamp): a chain moved ahead (evm_increaseTime) past the deadline
        would revert every settlement after the answer was made."""
        import json

        head = json.loads(self.node.chain.block_json("latest", False) or "{}")
        ahead = int(head.get("timestamp", "0x0"), 16) + 2 - deadline
        if ahead > 0:
            raise PaymentRefused("chain_clock_ahead", (
                f"the devnet's clock is past this permit's deadline by {ahead} s (evm_increaseTime or "
                "evm_setNextBlockTimestamp moved it ahead of the wall clock the SDK signs with): Permit2 would refuse it"))  # fmt: skip

    def _check_funds(self, owner: str, nonce: int) -> None:
        balance = self._call(OPG_TOKEN, "0x70a08231" + _word(owner))
        allowance = self._call(OPG_TOKEN, "0xdd62ed3e" + _word(owner) + _word(PERMIT2))
        if allowance < self.cap:
            raise PaymentRefused("insufficient_allowance", (
                f"{owner} allows Permit2 {allowance / 1e18:g} OPG on this devnet, under the {self.cap / 1e18:g} OPG cap: "
                "call llm.ensure_opg_approval(...) with BASE_MAINNET_RPC set to the devnet's URL "
                "(export it before importing opengradient; og-devnet up prints the line)"))  # fmt: skip
        if balance < self.cap:
            raise PaymentRefused("insufficient_funds", f"{owner} holds {balance / 1e18:g} OPG, under the {self.cap / 1e18:g} OPG cap")
        bitmap = self._call(PERMIT2, "0x4fe02b44" + _word(owner) + _word(nonce >> 8))
        if bitmap >> (nonce & 0xFF) & 1:
            raise PaymentRefused("nonce_used", "this permit was already settled; sign a new one")

    def release(self, permit: Permit) -> None:
        """The answer was not delivered: the permit is free again, and nothing moved."""
        with self._lock:
            self._reserved.discard((permit.owner.lower(), permit.nonce))

    # ---- settlement ----
    def cost(self, usage: dict[str, Any]) -> int:
        price = int(usage.get("prompt_tokens") or 0) * self.prompt_price + int(usage.get("completion_tokens") or 0) * self.completion_price
        return min(price, self.cap)

    def settle(self, permit: Permit, usage: dict[str, Any]) -> Settled:
        """Moves what the answer cost from the payer to payTo, on chain; blocks until the
        settlement is in a block. PaymentRefused if it reverts (nothing moved)."""
        from eth_abi import encode
        from x402.http.utils import encode_payment_response_header
        from x402.schemas import SettleResponse

        amount = self.cost(usage)
        try:
            auth = permit.payload.payload["permit2Authorization"]
            witness, permitted = auth["witness"], auth["permitted"]
            args = encode(
                ["((address,uint256),uint256,uint256)", "uint256", "address", "(address,address,uint256)", "bytes"],
                [((permitted["token"], int(permitted["amount"])), int(auth["nonce"]), int(auth["deadline"])), amount,
                 auth["from"], (witness["to"], witness["facilitator"], int(witness["validAfter"])),
                 bytes.fromhex(permit.payload.payload["signature"].removeprefix("0x"))],
            )  # fmt: skip
            try:
                tx_hash = self._send("0xff11e7b4" + args.hex())
            except Exception as e:  # the pool refused it (the facilitator ran out of gas money, ...)
                raise PaymentRefused("settlement_failed", f"the settlement could not be sent: {e}"[:300]) from None
            receipt = self._wait(tx_hash)
        finally:
            self.release(permit)
        if receipt is None:
            raise PaymentRefused("settlement_timeout", f"the settlement {tx_hash} was not mined within {SETTLE_TIMEOUT_S:g} s")
        if receipt.get("status") != "0x1":
            raise PaymentRefused("settlement_failed", f"the settlement {tx_hash} reverted: nothing moved")
        response = SettleResponse(success=True, payer=permit.owner, transaction=tx_hash, network=NETWORK, amount=str(amount))
        return Settled(tx_hash, amount, permit.owner, encode_payment_response_header(response))

    def _send(self, data: str) -> str:
        """Signs and pools a transaction from the facilitator (one at a time: nonces)."""
        chain = self.node.chain
        with self._lock:
            if self._account is None:
                from eth_account import Account

                self._account = Account.from_key(self._key)
            tx = {"chainId": chain.chain_id, "nonce": chain.nonce(self.facilitator, "pending"), "to": UPTO_PROXY,
                  "data": data, "value": 0, "gas": SETTLE_GAS, "maxFeePerGas": 2 * chain.base_fee + SUGGESTED_TIP,
                  "maxPriorityFeePerGas": SUGGESTED_TIP, "type": 2}  # fmt: skip
            raw = bytes(self._account.sign_transaction(tx).raw_transaction)
            tx_hash = chain.submit_raw(raw)
            self.node.tx_pooled(tx_hash, raw)
        self.node.after_submit()
        self.node.miner.wake()
        return tx_hash

    def _wait(self, tx_hash: str) -> dict[str, Any] | None:
        import json

        mined = threading.Event()

        def on_block(record: dict[str, Any]) -> None:
            if any(r.get("transactionHash") == tx_hash for r in record.get("receipts") or []):
                mined.set()

        self.node.block_listeners.append(on_block)
        try:
            text = self.node.chain.receipt_json(tx_hash)
            if text is None:
                mined.wait(SETTLE_TIMEOUT_S)
                text = self.node.chain.receipt_json(tx_hash)
        finally:
            self.node.block_listeners.remove(on_block)
        return None if text is None else json.loads(text)

