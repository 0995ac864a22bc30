# pragma version ~=0.4.3
# Clones contracts with CREATE2, takes deposits with value, and refuses a bad constructor argument.

fee: public(uint256)
last: public(address)
deposits: public(HashMap[address, uint256])


@deploy
def __init__(fee: uint256):
    assert fee < 100, "fee too high"
    self.fee = fee


@external
def clone(target: address, salt: bytes32) -> address:
    self.last = create_copy_of(target, salt=salt)
    return self.last


@external
@payable
def deposit():
    self.deposits[msg.sender] += msg.value
