"""The signed exchange: RFC 8785 canonical JSON, JWS compact envelopes, and agency keys.

``canonical`` turns values into the exact bytes that get hashed and signed and parses
untrusted JSON strictly; ``jws`` signs and verifies envelopes (EdDSA and ES256 only);
``keys`` loads, exports and certifies the keys that agencies register with the hub.
"""
