# pragma version 0.4.3
# London opcodes only (no PUSH0, MCOPY): runs under every --hardfork the devnet offers.
# pragma evm-version london
"""
@title OPG on the devnet's "Base"
@notice A plain ERC-20 at OPG's Base address, for the SDK's `ensure_opg_approval` and x402
        payments through Permit2. The genesis alloc places runtime code and storage only: no
        constructor runs, so name, symbol and decimals are constants, and balances and
        totalSupply are storage words that og_devnet.base.genesis writes.
"""

from ethereum.ercs import IERC20

implements: IERC20

NAME: constant(String[32]) = "OpenGradient (devnet)"
SYMBOL: constant(String[8]) = "OPG"
DECIMALS: constant(uint8) = 18

# Storage order is the layout genesis.py reads from contracts.json; do not reorder casually.
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)


@external
@view
def name() -> String[32]:
    return NAME


@external
@view
def symbol() -> String[8]:
    return SYMBOL


@external
@view
def decimals() -> uint8:
    return DECIMALS


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "OPG: transfer to the zero address"
    held: uint256 = self.balanceOf[sender]
    assert held >= amount, "OPG: insufficient balance"
    self.balanceOf[sender] = held - amount
    self.balanceOf[receiver] += amount
    log IERC20.Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    allowed: uint256 = self.allowance[sender][msg.sender]
    # An unlimited (max uint) allowance is never spent down, as OpenZeppelin does and as
    # Permit2 users who approve once with max uint expect.
    if allowed != max_value(uint256):
        assert allowed >= amount, "OPG: insufficient allowance"
        self.allowance[sender][msg.sender] = allowed - amount
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    assert spender != empty(address), "OPG: approve to the zero address"
    self.allowance[msg.sender][spender] = amount
    log IERC20.Approval(owner=msg.sender, spender=spender, value=amount)
    return True
