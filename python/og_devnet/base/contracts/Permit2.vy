# pragma version 0.4.3
# London opcodes only (no PUSH0, MCOPY): runs under every --hardfork the devnet offers.
# pragma evm-version london
"""
@title Permit2 (SignatureTransfer subset) on the devnet's "Base"
@notice Uniswap Permit2's SignatureTransfer at its canonical address, with the same ABI and
        checks: deadline, requestedAmount <= permitted.amount, unordered nonce bitmap, EIP-712
        signature with spender = msg.sender, then token.transferFrom(owner, to, amount).
        Not here: AllowanceTransfer, batch transfers, EIP-1271 and EIP-2098 signatures (the
        SDK signs with EOAs, 65 bytes r || s || v).
@dev Revert reasons name Permit2's custom errors, so that x402's `map_upto_settle_error`
     (which matches error names in the message) classifies them. The requested > permitted
     case avoids the word "InvalidAmount": that branch of x402's mapper raises a NameError.
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

event UnorderedNonceInvalidation:
    owner: indexed(address)
    word: uint256
    mask: uint256

# The domain is fixed to Base mainnet (8453), unlike real Permit2 which reads block.chainid:
# the SDK signs every x402 payment for eip155:8453 whatever chain the devnet runs, and the
# devnet plays Base for it.
BASE_CHAIN_ID: constant(uint256) = 8453
DOMAIN_TYPEHASH: constant(bytes32) = keccak256("EIP712Domain(string name,uint256 chainId,address verifyingContract)")
NAME_HASH: constant(bytes32) = keccak256("Permit2")
TOKEN_PERMISSIONS_TYPEHASH: constant(bytes32) = keccak256("TokenPermissions(address token,uint256 amount)")
PERMIT_TRANSFER_FROM_TYPEHASH: constant(bytes32) = keccak256(
    "PermitTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline)"
    "TokenPermissions(address token,uint256 amount)"
)
WITNESS_TYPEHASH_STUB: constant(String[100]) = "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,uint256 deadline,"
MAX_WITNESS_TYPE: constant(uint256) = 512
# secp256k1n / 2: signatures with a larger s are the malleable twin of a low-s one.
HALF_N: constant(uint256) = 57896044618658097711785492504343953926418782139537452191302581570759080747168  # 0x7fff…20a0

nonceBitmap: public(HashMap[address, HashMap[uint256, uint256]])


@external
@view
def DOMAIN_SEPARATOR() -> bytes32:
    return self._domain_separator()


@internal
@view
def _domain_separator() -> bytes32:
    return keccak256(abi_encode(DOMAIN_TYPEHASH, NAME_HASH, BASE_CHAIN_ID, self))


@external
def invalidateUnorderedNonces(wordPos: uint256, mask: uint256):
    self.nonceBitmap[msg.sender][wordPos] |= mask
    log UnorderedNonceInvalidation(owner=msg.sender, word=wordPos, mask=mask)


@external
def permitTransferFrom(
    permit: PermitTransferFrom,
    transferDetails: SignatureTransferDetails,
    owner: address,
    signature: Bytes[65],
):
    data_hash: bytes32 = keccak256(abi_encode(
        PERMIT_TRANSFER_FROM_TYPEHASH, self._hash_permissions(permit.permitted), msg.sender, permit.nonce, permit.deadline
    ))
    self._permit_transfer_from(permit, transferDetails, owner, data_hash, signature)


@external
def permitWitnessTransferFrom(
    permit: PermitTransferFrom,
    transferDetails: SignatureTransferDetails,
    owner: address,
    witness: bytes32,
    witnessTypeString: String[MAX_WITNESS_TYPE],
    signature: Bytes[65],
):
    type_hash: bytes32 = keccak256(concat(WITNESS_TYPEHASH_STUB, witnessTypeString))
    data_hash: bytes32 = keccak256(abi_encode(
        type_hash, self._hash_permissions(permit.permitted), msg.sender, permit.nonce, permit.deadline, witness
    ))
    self._permit_transfer_from(permit, transferDetails, owner, data_hash, signature)


@internal
@pure
def _hash_permissions(p: TokenPermissions) -> bytes32:
    return keccak256(abi_encode(TOKEN_PERMISSIONS_TYPEHASH, p.token, p.amount))


@internal
def _permit_transfer_from(
    permit: PermitTransferFrom,
    details: SignatureTransferDetails,
    owner: address,
    data_hash: bytes32,
    signature: Bytes[65],
):
    # Permit2's order: deadline, amount, nonce, signature, transfer.
    assert block.timestamp <= permit.deadline, "Permit2: SignatureExpired"
    assert details.requestedAmount <= permit.permitted.amount, "Permit2: requestedAmount exceeds permitted.amount"
    self._use_unordered_nonce(owner, permit.nonce)
    digest: bytes32 = keccak256(concat(x"1901", self._domain_separator(), data_hash))
    self._verify(digest, signature, owner)
    # Solmate's safeTransferFrom: the call must succeed and return nothing or true. A failing
    # call bubbles its revert reason up ("OPG: insufficient allowance").
    response: Bytes[32] = raw_call(
        permit.permitted.token,
        abi_encode(owner, details.to, details.requestedAmount, method_id=method_id("transferFrom(address,address,uint256)")),
        max_outsize=32,
    )
    if len(response) > 0:
        assert convert(response, bool), "Permit2: TRANSFER_FROM_FAILED"


@internal
def _use_unordered_nonce(owner: address, nonce: uint256):
    word_pos: uint256 = nonce >> 8
    bit: uint256 = 1 << (nonce & 255)
    flipped: uint256 = self.nonceBitmap[owner][word_pos] ^ bit
    assert flipped & bit != 0, "Permit2: InvalidNonce"
    self.nonceBitmap[owner][word_pos] = flipped


@internal
@pure
def _verify(digest: bytes32, signature: Bytes[65], owner: address):
    assert len(signature) == 65, "Permit2: InvalidSignatureLength"
    r: uint256 = extract32(signature, 0, output_type=uint256)
    s: uint256 = extract32(signature, 32, output_type=uint256)
    v: uint256 = convert(slice(signature, 64, 1), uint256)
    assert s <= HALF_N, "Permit2: InvalidSignature (s in the upper half)"
    assert v == 27 or v == 28, "Permit2: InvalidSignature (v is not 27 or 28)"
    signer: address = ecrecover(digest, v, r, s)
    assert signer != empty(address), "Permit2: InvalidSignature"
    assert signer == owner, "Permit2: InvalidSigner"
