# pragma version 0.4.3
# London opcodes only (no PUSH0, MCOPY): runs under every --hardfork the devnet offers.
# pragma evm-version london
"""
@title x402ExactPermit2Proxy on the devnet's "Base"
@notice The spender of an x402 "exact" payment with assetTransferMethod "permit2": anyone may
        settle it, for exactly the permitted amount, to the witness's `to`, once.
@dev Same ABI as og-x402's X402_EXACT_PERMIT2_PROXY_ABI (settle: 0x13cd3b53).
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
    amount: uint256
    nonce: uint256

PERMIT2: public(constant(address)) = 0x000000000022D473030F116dDEE9F6B43aC78BA3
WITNESS_TYPEHASH: public(constant(bytes32)) = keccak256("Witness(address to,uint256 validAfter)")
WITNESS_TYPE_STRING: public(constant(String[128])) = "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,uint256 validAfter)"


@external
def settle(permit: PermitTransferFrom, owner: address, witness: Witness, signature: Bytes[65]):
    assert owner != empty(address), "x402ExactPermit2Proxy: InvalidOwner"
    assert witness.to != empty(address), "x402ExactPermit2Proxy: InvalidDestination"
    assert block.timestamp >= witness.validAfter, "x402ExactPermit2Proxy: PaymentTooEarly"
    witness_hash: bytes32 = keccak256(abi_encode(WITNESS_TYPEHASH, witness.to, witness.validAfter))
    amount: uint256 = permit.permitted.amount
    extcall IPermit2(PERMIT2).permitWitnessTransferFrom(
        permit,
        SignatureTransferDetails(to=witness.to, requestedAmount=amount),
        owner,
        witness_hash,
        WITNESS_TYPE_STRING,
        signature,
    )
    log Settled(owner=owner, to=witness.to, amount=amount, nonce=permit.nonce)
