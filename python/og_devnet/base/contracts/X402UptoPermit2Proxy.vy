# pragma version 0.4.3
# London opcodes only (no PUSH0, MCOPY): runs under every --hardfork the devnet offers.
# pragma evm-version london
"""
@title x402UptoPermit2Proxy on the devnet's "Base"
@notice The spender the SDK names in an x402 "upto" permit. The facilitator named in the
        signed witness settles any amount up to the permitted cap, once (Permit2's nonce).
@dev Same ABI as og-x402's X402_UPTO_PERMIT2_PROXY_ABI (settle: 0xff11e7b4). Checks are
     inferred from og-x402's error names; reasons carry those names so that x402's
     `map_upto_settle_error` classifies them.
"""

struct TokenPermissions:
    token: address
    amount: uint256

struct PermitTransferFrom:
    permitted: TokenPermissions
    nonce: uint256
    deadline: uint256

struct SignatureTransferDetails:
    to: address
    requestedAmount: uint256

struct Witness:
    to: address
    facilitator: address
    validAfter: uint256

interface IPermit2:
    def permitWitnessTransferFrom(
        permit: PermitTransferFrom,
        transferDetails: SignatureTransferDetails,
        owner: address,
        witness: bytes32,
        witnessTypeString: String[512],
        signature: Bytes[65],
    ): nonpayable

event Settled:
    owner: indexed(address)
    to: indexed(address)
    facilitator: indexed(address)
    amount: uint256
    nonce: uint256

PERMIT2: public(constant(address)) = 0x000000000022D473030F116dDEE9F6B43aC78BA3
WITNESS_TYPEHASH: public(constant(bytes32)) = keccak256("Witness(address to,address facilitator,uint256 validAfter)")
WITNESS_TYPE_STRING: public(constant(String[128])) = "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,address facilitator,uint256 validAfter)"


@external
def settle(permit: PermitTransferFrom, amount: uint256, owner: address, witness: Witness, signature: Bytes[65]):
    assert owner != empty(address), "x402UptoPermit2Proxy: InvalidOwner"
    assert witness.to != empty(address), "x402UptoPermit2Proxy: InvalidDestination"
    assert msg.sender == witness.facilitator, "x402UptoPermit2Proxy: UnauthorizedFacilitator"
    assert block.timestamp >= witness.validAfter, "x402UptoPermit2Proxy: PaymentTooEarly"
    assert amount <= permit.permitted.amount, "x402UptoPermit2Proxy: AmountExceedsPermitted"
    # x402 settles a zero amount without a transaction; on chain it is a mistake.
    assert amount > 0, "x402UptoPermit2Proxy: ZeroAmount"
    witness_hash: bytes32 = keccak256(abi_encode(WITNESS_TYPEHASH, witness.to, witness.facilitator, witness.validAfter))
    extcall IPermit2(PERMIT2).permitWitnessTransferFrom(
        permit,
        SignatureTransferDetails(to=witness.to, requestedAmount=amount),
        owner,
        witness_hash,
        WITNESS_TYPE_STRING,
        signature,
    )
    log Settled(owner=owner, to=witness.to, facilitator=witness.facilitator, amount=amount, nonce=permit.nonce)
