"""The devnet plays Base for x402 payments: OPG, Permit2 and the x402 Permit2 proxies are Vyper
contracts in the genesis alloc. Permits are made by the SDK's own x402 client (EIP-712 domain
chainId 8453) and settled on the devnet through the proxies, by hand and by x402's own
facilitator code; x402's offline verifier accepts what the contracts accept."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from og_devnet import Devnet
from og_devnet.base import DEV_OPG, EXACT_PROXY, OPG_TOKEN, PERMIT2, UPTO_PROXY, abi, contracts, hashmap_slot, with_base_contracts
from og_devnet.base.genesis import CONTRACTS_JSON
from opengradient.client.llm import LLM
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from x402.mechanisms.evm.constants import X402_EXACT_PERMIT2_PROXY_ABI, X402_UPTO_PERMIT2_PROXY_ABI
from x402.mechanisms.evm.signers import EthAccountSigner, FacilitatorWeb3Signer
from x402.mechanisms.evm.types import ExactPermit2TokenPermissions, UptoPermit2Authorization, UptoPermit2Payload, UptoPermit2Witness
from x402.mechanisms.evm.upto.client.permit2 import _sign_upto_permit2_authorization
from x402.mechanisms.evm.upto.facilitator import UptoEvmScheme
from x402.mechanisms.evm.upto.facilitator.permit2 import verify_upto_permit2
from x402.mechanisms.evm.upto.facilitator.permit2_helpers import build_upto_permit2_settle_args
from x402.schemas import PaymentPayload, PaymentRequired, PaymentRequirements

CENT = 10**16  # 0.01 OPG
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
FAST = {"fixtures": False, "zkml": False, "llm_gateways": 0}


@pytest.fixture(scope="module")
def node() -> Iterator[Devnet]:
    with Devnet(mining="auto", **FAST) as n:
        yield n


@pytest.fixture(scope="module")
def w3(node: Devnet) -> Web3:
    return Web3(Web3.HTTPProvider(node.rpc_url))


@pytest.fixture(scope="module")
def keys(node: Devnet) -> list[str]:
    return [key for _, key in node.chain.dev_accounts()]


def opg(w3: Web3) -> Contract:
    return w3.eth.contract(OPG_TOKEN, abi=abi("OPG"))


def upto(w3: Web3) -> Contract:
    # x402's ABI, not ours: proves the selector and argument layout agree.
    return w3.eth.contract(UPTO_PROXY, abi=X402_UPTO_PERMIT2_PROXY_ABI + [e for e in abi("X402UptoPermit2Proxy") if e["type"] == "event"])


def wait(w3: Web3, tx: bytes) -> Any:
    return w3.eth.wait_for_transaction_receipt(tx, timeout=30)


def payee(tag: int) -> str:
    return Web3.to_checksum_address(f"0x{tag:040x}")


def requirements(pay_to: str, facilitator: str, cap: int, scheme: str = "upto") -> PaymentRequirements:
    extra = {"assetTransferMethod": "permit2"} | ({"facilitatorAddress": facilitator} if scheme == "upto" else {})
    return PaymentRequirements(
        scheme=scheme, network="eip155:8453", asset=OPG_TOKEN, amount=str(cap), pay_to=pay_to,
        max_timeout_seconds=300, extra=extra,
    )  # fmt: skip


def sdk_payment(key: str, req: PaymentRequirements) -> PaymentPayload:
    """What `og.LLM` sends in PAYMENT-SIGNATURE for these requirements."""
    return asyncio.run(LLM._build_x402_client(key).create_payment_payload(PaymentRequired(accepts=[req])))


def approve_permit2(w3: Web3, owner: str, amount: int) -> None:
    assert wait(w3, opg(w3).functions.approve(PERMIT2, amount).transact({"from": owner})).status == 1


def settle_args(payment: PaymentPayload, amount: int) -> list[Any]:
    a = build_upto_permit2_settle_args(UptoPermit2Payload.from_dict(payment.payload), amount)
    return [a.permit_tuple, a.settlement_amount, a.owner, a.witness_tuple, a.signature]


def reverts(w3: Web3, call: Any, sender: str, reason: str) -> None:
    """The call reverts with `reason`, and the same call sent as a transaction fails."""
    with pytest.raises(ContractLogicError, match=reason):
        call.call({"from": sender})
    assert wait(w3, call.transact({"from": sender, "gas": 300_000})).status == 0


class StubSigner:
    """x402's FacilitatorEvmSigner for offline verification: EOA signatures only."""

    def __init__(self, address: str) -> None:
        self.address = address

    def get_addresses(self) -> list[str]:
        return [self.address]

    def get_code(self, address: str) -> bytes:
        return b""

    def verify_typed_data(self, address: str, domain: dict[str, Any], types: dict[str, Any], primary: str,
                          message: dict[str, Any], signature: bytes) -> bool:  # fmt: skip
        fields = {"name": "string", "version": "string", "chainId": "uint256", "verifyingContract": "address"}
        full = {"EIP712Domain": [{"name": k, "type": fields[k]} for k in domain]}
        full |= {t: [{"name": f.name, "type": f.type} for f in fs] for t, fs in types.items()}
        typed = {"types": full, "primaryType": primary, "domain": domain, "message": message}
        return Account.recover_message(encode_typed_data(full_message=typed), signature=signature) == address


def test_contracts_json_is_in_step_with_the_sources() -> None:
    for name, c in contracts().items():
        source = CONTRACTS_JSON.parent / c["source"]
        assert hashlib.sha256(source.read_bytes()).hexdigest() == c["source_sha256"], f"{name}: run make_base_contracts.py"
    pytest.importorskip("vyper")
    script = Path(__file__).parents[1] / "python/og_devnet/fixtures/make_base_contracts.py"
    spec = importlib.util.spec_from_file_location("make_base_contracts", script)
    assert spec and spec.loader
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    assert make.render(make.build()) == CONTRACTS_JSON.read_text()


def test_genesis_places_the_contracts_and_funds_dev_accounts(node: Devnet, w3: Web3) -> None:
    token = opg(w3)
    dev = [a for a, _ in node.chain.dev_accounts()]
    assert all(len(w3.eth.get_code(a)) > 0 for a in (OPG_TOKEN, PERMIT2, UPTO_PROXY, EXACT_PROXY))
    assert [token.functions.balanceOf(a).call() for a in dev] == [DEV_OPG] * len(dev) and DEV_OPG == 1000 * 10**18
    assert token.functions.totalSupply().call() == DEV_OPG * len(dev)
    assert (token.functions.name().call(), token.functions.symbol().call(), token.functions.decimals().call()) == (
        "OpenGradient (devnet)", "OPG", 18,
    )  # fmt: skip
    # Vyper's HashMap slot: keccak256(slot ++ key), read back raw.
    slot = hashmap_slot(contracts()["OPG"]["layout"]["balanceOf"]["slot"], dev[0])
    assert int.from_bytes(w3.eth.get_storage_at(OPG_TOKEN, slot), "big") == DEV_OPG


def test_typehashes_and_domain_are_the_ones_the_sdk_signs(w3: Web3) -> None:
    stub = b"PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,"
    up = w3.eth.contract(UPTO_PROXY, abi=abi("X402UptoPermit2Proxy")).functions
    ex = w3.eth.contract(EXACT_PROXY, abi=abi("X402ExactPermit2Proxy")).functions
    assert Web3.keccak(stub + up.WITNESS_TYPE_STRING().call().encode()).hex() == "51dff6974ad4388c499e7fcfe838d2bd767162553a144098ce20ea661d70c2ee"
    assert up.WITNESS_TYPEHASH().call().hex() == "d4171c445a74218b01d4fd8af34ff1106580ea1e36ff837e64484bfaa2253b75"
    assert Web3.keccak(stub + ex.WITNESS_TYPE_STRING().call().encode()).hex() == "ebc156cd23678a74c94df13d772ef5478420637f0c94bd10d509e1dc98f521c7"
    assert ex.WITNESS_TYPEHASH().call().hex() == "d97b3239a7f32295517bd14cb074edfdd188dfe5eb42f802bb26d4fd1eb12c37"
    assert up.PERMIT2().call() == ex.PERMIT2().call() == PERMIT2
    separator = w3.eth.contract(PERMIT2, abi=abi("Permit2")).functions.DOMAIN_SEPARATOR().call()
    assert separator.hex() == "3b6f35e4fce979ef8eac3bcdc8c3fc38fe7911bb0c69c8fe72bf1fd1a17e6f07"  # chainId 8453


def test_erc20_approve_transfer_and_transfer_from(node: Devnet, w3: Web3) -> None:
    token = opg(w3)
    owner, spender, to = node.chain.dev_accounts()[0][0], node.chain.dev_accounts()[1][0], payee(0xA1)
    r = wait(w3, token.functions.approve(spender, 100).transact({"from": owner}))
    (ev,) = token.events.Approval().process_receipt(r, errors=DISCARD)
    assert (ev.args.owner, ev.args.spender, ev.args.value) == (owner, spender, 100)
    assert token.functions.allowance(owner, spender).call() == 100
    slot = hashmap_slot(contracts()["OPG"]["layout"]["allowance"]["slot"], owner, spender)
    assert int.from_bytes(w3.eth.get_storage_at(OPG_TOKEN, slot), "big") == 100

    r = wait(w3, token.functions.transfer(to, 5).transact({"from": owner}))
    (ev,) = token.events.Transfer().process_receipt(r, errors=DISCARD)
    assert (ev.args.sender, ev.args.receiver, ev.args.value) == (owner, to, 5)
    r = wait(w3, token.functions.transferFrom(owner, to, 30).transact({"from": spender}))
    assert [e.args.value for e in token.events.Transfer().process_receipt(r, errors=DISCARD)] == [30]
    assert token.functions.allowance(owner, spender).call() == 70
    assert token.functions.balanceOf(to).call() == 35

    reverts(w3, token.functions.transferFrom(owner, to, 71), spender, "OPG: insufficient allowance")
    reverts(w3, token.functions.transfer(to, DEV_OPG + 1), spender, "OPG: insufficient balance")
    # A max-uint allowance is not spent down.
    wait(w3, token.functions.approve(spender, 2**256 - 1).transact({"from": owner}))
    wait(w3, token.functions.transferFrom(owner, to, 1).transact({"from": spender}))
    assert token.functions.allowance(owner, spender).call() == 2**256 - 1


def test_the_sdk_approves_permit2(node: Devnet, w3: Web3, keys: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """opengradient's ensure_opg_approval, with "Base mainnet" pointed at the devnet."""
    from opengradient.client import opg_token

    monkeypatch.setattr(opg_token, "BASE_MAINNET_RPC", node.rpc_url)
    first = opg_token.ensure_opg_approval(Account.from_key(keys[1]), min_allowance=0.1)
    assert (first.allowance_before, first.allowance_after) == (0, 20 * CENT) and first.tx_hash
    again = opg_token.ensure_opg_approval(Account.from_key(keys[1]), min_allowance=0.1)
    assert again.tx_hash is None and again.allowance_after == 20 * CENT


def test_an_sdk_upto_permit_settles_through_the_proxy_once(node: Devnet, w3: Web3, keys: list[str]) -> None:
    owner, facilitator, to = Account.from_key(keys[3]).address, Account.from_key(keys[4]).address, payee(0xB1)
    token, proxy = opg(w3), upto(w3)
    cap, amount = 10 * CENT, 3 * CENT
    approve_permit2(w3, owner, 20 * CENT)  # as ensure_opg_approval does: 2 × the minimum
    req = requirements(to, facilitator, cap)
    payment = sdk_payment(keys[3], req)
    # x402's own offline verification accepts what the contract is about to accept.
    verdict = verify_upto_permit2(StubSigner(facilitator), payment, req, UptoPermit2Payload.from_dict(payment.payload), None, simulate=False)
    assert verdict.is_valid, verdict

    before = token.functions.balanceOf(owner).call()
    r = wait(w3, proxy.functions.settle(*settle_args(payment, amount)).transact({"from": facilitator}))
    assert r.status == 1 and r.gasUsed < 150_000, r.gasUsed
    assert token.functions.balanceOf(owner).call() == before - amount
    assert token.functions.balanceOf(to).call() == amount
    assert token.functions.allowance(owner, PERMIT2).call() == 20 * CENT - amount
    (tr,) = token.events.Transfer().process_receipt(r, errors=DISCARD)
    assert (tr.args.sender, tr.args.receiver, tr.args.value) == (owner, to, amount)
    (st,) = proxy.events.Settled().process_receipt(r, errors=DISCARD)
    nonce = int(payment.payload["permit2Authorization"]["nonce"])
    assert (st.args.owner, st.args.to, st.args.facilitator, st.args.amount, st.args.nonce) == (owner, to, facilitator, amount, nonce)
    bitmap = w3.eth.contract(PERMIT2, abi=abi("Permit2")).functions.nonceBitmap(owner, nonce >> 8).call()
    assert bitmap == 1 << (nonce & 0xFF)

    reverts(w3, proxy.functions.settle(*settle_args(payment, amount)), facilitator, "Permit2: InvalidNonce")
    assert token.functions.balanceOf(to).call() == amount


def test_bad_settlements_revert_and_move_nothing(node: Devnet, w3: Web3, keys: list[str]) -> None:
    owner, facilitator, other = (Account.from_key(k).address for k in keys[5:8])
    to = payee(0xC1)
    token, proxy = opg(w3), upto(w3)
    cap = 5 * CENT
    approve_permit2(w3, owner, 2**256 - 1)
    payment = sdk_payment(keys[5], requirements(to, facilitator, cap))
    before = token.functions.balanceOf(owner).call()

    def settle(args: list[Any]) -> Any:
        return proxy.functions.settle(*args)

    good = settle_args(payment, cap)
    reverts(w3, settle(good), other, "UnauthorizedFacilitator")
    reverts(w3, settle(settle_args(payment, cap + 1)), facilitator, "AmountExceedsPermitted")
    reverts(w3, settle(settle_args(payment, 0)), facilitator, "ZeroAmount")
    redirected = [*good[:3], (payee(0xC2), *good[3][1:]), good[4]]  # witness.to not what was signed
    reverts(w3, settle(redirected), facilitator, "Permit2: InvalidSigner")
    sig = bytearray(good[4])
    sig[40] ^= 1
    reverts(w3, settle([*good[:4], bytes(sig)]), facilitator, "Permit2: InvalidSign")
    # The malleable twin (n - s, other v) recovers the same owner: rejected as Permit2 does.
    s = int.from_bytes(good[4][32:64], "big")
    twin = good[4][:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - good[4][64]])
    reverts(w3, settle([*good[:4], twin]), facilitator, "s in the upper half")
    reverts(w3, settle([*good[:4], good[4][:64] + b"\x1d"]), facilitator, "v is not 27 or 28")
    reverts(w3, settle([*good[:4], good[4][:64]]), facilitator, "InvalidSignatureLength")

    # An expired permit, signed as the SDK signs (its own helper), with a deadline passed.
    now = int(time.time())
    auth = UptoPermit2Authorization(
        from_address=owner, permitted=ExactPermit2TokenPermissions(token=OPG_TOKEN, amount=str(cap)), spender=UPTO_PROXY,
        nonce="7", deadline=str(now - 60), witness=UptoPermit2Witness(to=to, facilitator=facilitator, valid_after=str(now - 600)),
    )  # fmt: skip
    signature = _sign_upto_permit2_authorization(EthAccountSigner(Account.from_key(keys[5])), auth, requirements(to, facilitator, cap))
    expired = build_upto_permit2_settle_args(UptoPermit2Payload(auth, signature), cap)
    expired_args = [expired.permit_tuple, cap, expired.owner, expired.witness_tuple, expired.signature]
    reverts(w3, settle(expired_args), facilitator, "Permit2: SignatureExpired")

    assert token.functions.balanceOf(owner).call() == before and token.functions.balanceOf(to).call() == 0
    # None of that used the nonce: the good settlement still goes through.
    assert wait(w3, settle(good).transact({"from": facilitator})).status == 1
    assert token.functions.balanceOf(to).call() == cap


class FromFacilitator(FacilitatorWeb3Signer):
    """x402's web3 signer with its eth_calls sent from the facilitator. x402 simulates settle()
    with an eth_call, and the proxy requires msg.sender == witness.facilitator; the stock
    signer's calls come from 0x0, so its simulation fails."""

    def read_contract(self, address: str, abi: list[dict[str, Any]], function_name: str, *args: Any) -> Any:
        contract = self._w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
        return contract.functions[function_name](*args).call({"from": self.address})


def test_x402_facilitator_verifies_and_settles_on_the_devnet(node: Devnet, w3: Web3, keys: list[str]) -> None:
    """x402's own facilitator code (UptoEvmScheme: verify with simulation, settle) against the
    devnet's contracts, for less than the cap, as a gateway settles a session."""
    owner, facilitator, to = Account.from_key(keys[8]).address, Account.from_key(keys[9]).address, payee(0xD1)
    approve_permit2(w3, owner, 20 * CENT)
    req = requirements(to, facilitator, 10 * CENT)
    payment = sdk_payment(keys[8], req)
    stock = UptoEvmScheme(FacilitatorWeb3Signer(keys[9], node.rpc_url)).verify(payment, req)
    assert stock.invalid_reason == "permit2_simulation_failed", stock
    scheme = UptoEvmScheme(FromFacilitator(keys[9], node.rpc_url))
    verdict = scheme.verify(payment, req)
    assert verdict.is_valid, verdict
    settled = scheme.settle(payment, req.model_copy(update={"amount": str(4 * CENT)}))
    assert settled.success, settled
    assert opg(w3).functions.balanceOf(to).call() == 4 * CENT
    again = scheme.settle(payment, req.model_copy(update={"amount": str(CENT)}))
    # x402 sends with a fixed gas limit, no estimate: the replay is mined and fails (InvalidNonce).
    assert not again.success and again.error_reason == "invalid_upto_evm_transaction_failed", again
    assert opg(w3).functions.balanceOf(to).call() == 4 * CENT


def test_an_sdk_exact_permit2_payment_settles_through_the_exact_proxy(node: Devnet, w3: Web3, keys: list[str]) -> None:
    owner, to = Account.from_key(keys[2]).address, payee(0xE1)
    approve_permit2(w3, owner, 2**256 - 1)
    payment = sdk_payment(keys[2], requirements(to, "", 2 * CENT, scheme="exact"))
    a = payment.payload["permit2Authorization"]
    assert Web3.to_checksum_address(a["spender"]) == EXACT_PROXY
    permit = ((OPG_TOKEN, int(a["permitted"]["amount"])), int(a["nonce"]), int(a["deadline"]))
    witness = (Web3.to_checksum_address(a["witness"]["to"]), int(a["witness"]["validAfter"]))
    proxy = w3.eth.contract(EXACT_PROXY, abi=X402_EXACT_PERMIT2_PROXY_ABI)
    call = proxy.functions.settle(permit, owner, witness, bytes.fromhex(payment.payload["signature"][2:]))
    assert wait(w3, call.transact({"from": owner})).status == 1  # anyone may settle an exact permit
    assert opg(w3).functions.balanceOf(to).call() == 2 * CENT
    reverts(w3, call, owner, "Permit2: InvalidNonce")


def test_a_resumed_london_chain_keeps_the_contracts_and_balances(tmp_path: Path) -> None:
    to = payee(0xF1)
    with Devnet(mining="auto", state=tmp_path, hardfork="london", **FAST) as n:
        w3 = Web3(Web3.HTTPProvider(n.rpc_url))
        owner = n.chain.dev_accounts()[0][0]
        assert wait(w3, opg(w3).functions.transfer(to, 7).transact({"from": owner})).status == 1
    with Devnet(mining="auto", state=tmp_path, hardfork="london", **FAST) as n:
        assert n.resumed
        w3 = Web3(Web3.HTTPProvider(n.rpc_url))
        assert w3.eth.get_code(UPTO_PROXY).hex() == contracts()["X402UptoPermit2Proxy"]["runtime"][2:]
        assert opg(w3).functions.balanceOf(to).call() == 7
        assert opg(w3).functions.balanceOf(owner).call() == DEV_OPG - 7


def test_a_genesis_file_entry_wins_over_the_base_contracts(tmp_path: Path) -> None:
    merged = json.loads(with_base_contracts(json.dumps({"alloc": {OPG_TOKEN.lower(): {"balance": "0x1"}}}), {}))
    assert merged["alloc"][OPG_TOKEN.lower()] == {"balance": "0x1"} and OPG_TOKEN not in merged["alloc"]
    assert merged["alloc"][PERMIT2]["code"] == contracts()["Permit2"]["runtime"]
    assert with_base_contracts("not json", {}) == "not json"
    genesis = tmp_path / "genesis.json"
    genesis.write_text(json.dumps({"config": {"chainId": 777}, "alloc": {OPG_TOKEN: {"balance": "0x1"}}}))
    with Devnet(mining="manual", genesis=genesis, **FAST) as n:
        w3 = Web3(Web3.HTTPProvider(n.rpc_url))
        assert w3.eth.get_code(OPG_TOKEN) == b"" and w3.eth.get_balance(OPG_TOKEN) == 1
        assert len(w3.eth.get_code(PERMIT2)) > 0
