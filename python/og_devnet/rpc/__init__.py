"""JSON-RPC: the envelope (`dispatch`), the method table (`registry`) and the methods."""
