# pragma version ~=0.4.3
# A registry as a user writes it: a stored value with an event, a guarded setter (revert
# reason) and an owner check that reverts with a Solidity-style custom error.

event Stored:
    setter: indexed(address)
    value: uint256

owner: public(address)
value: public(uint256)


@deploy
def __init__(initial: uint256):
    self.owner = msg.sender
    self.value = initial


@external
def store(x: uint256):
    assert x > 0, "x must be positive"
    self.value = x
    log Stored(setter=msg.sender, value=x)


@external
def set_owner(new_owner: address):
    # Unauthorized(address caller): Vyper has no custom errors, so encode one by hand.
    if msg.sender != self.owner:
        raw_revert(concat(method_id("Unauthorized(address)"), abi_encode(msg.sender)))
    self.owner = new_owner
