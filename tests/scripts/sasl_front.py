#!/usr/bin/env python3
"""A SASL front for dekaf's tests: it authenticates Kafka clients itself, with an independent
server implementation (the `scramp` package for SCRAM, a plain comparison for PLAIN), then
forwards every other request to a broker unchanged.

  sasl_front.py LISTEN_PORT BROKER_HOST:BROKER_PORT USER PASSWORD LIFETIME_MS STATS_FILE [TAMPER]

It offers PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER. OAUTHBEARER accepts what
Kafka's unsecured validator accepts (OAuthBearerUnsecuredValidatorCallbackHandler): a JWS
with header {"alg":"none"} whose claims have a string `sub` (here: USER) and a numeric `exp`
(seconds since the epoch) still in the future. A refused token is answered as Kafka's
OAuthBearerSaslServer does: no error code and the RFC 7628 error {"status":"invalid_token"}
as the challenge; the client must answer with a lone 0x01, and that answer then fails with
SASL_AUTHENTICATION_FAILED carrying the same JSON as its message.

With LIFETIME_MS > 0 every session gets that lifetime (KIP-368's session_lifetime_ms,
SaslAuthenticate v1+); an OAUTHBEARER session lasts until the token expires, or LIFETIME_MS
if that comes first (Kafka's SaslServerAuthenticator). As Kafka does, a connection whose
session expired is closed at its next request other than a SASL one. TAMPER
breaks SCRAM on purpose: `signature` (a wrong server signature), `nonce` (a server nonce that
does not extend the client's), `iterations` (a server-first message claiming 1024, below
Kafka's minimum).

After every event it rewrites STATS_FILE with a JSON object: connections, authenticated,
reauthenticated, refused, expired (connections closed for an expired session), tokens (every
OAUTHBEARER token accepted, in order) and lifetimes_ms (the session lifetime sent with each
of them). It prints "ready" once listening.
"""

import asyncio
import base64
import json
import struct
import sys
import time

import scramp

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
UNSUPPORTED_SASL_MECHANISM = 33
SASL_AUTHENTICATION_FAILED = 58

stats = {
    "connections": 0,
    "authenticated": 0,
    "reauthenticated": 0,
    "refused": 0,
    "expired": 0,
    "tokens": [],
    "lifetimes_ms": [],
}


def save(path):
    with open(path + ".tmp", "w") as f:
        json.dump(stats, f)
    import os

    os.replace(path + ".tmp", path)


def uvarint(buf, at):
    shift = value = 0
    while True:
        b = buf[at]
        at += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, at
        shift += 7


def put_uvarint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def skip_tags(buf, at):
    count, at = uvarint(buf, at)
    for _ in range(count):
        _, at = uvarint(buf, at)
        size, at = uvarint(buf, at)
        at += size
    return at


def parse_header(frame):
    api, version, correlation = struct.unpack_from(">hhi", frame, 0)
    at = 8
    (n,) = struct.unpack_from(">h", frame, at)
    at += 2 + max(n, 0)
    if api == SASL_AUTHENTICATE and version >= 2:
        at = skip_tags(frame, at)
    return api, version, correlation, at


class Session:
    def __init__(self, args):
        self.args = args
        self.mechanism = None
        self.scram = None
        self.step = 0
        self.expires = None
        self.authenticated = False
        # OAUTHBEARER: the RFC 7628 error sent as a challenge, awaiting the client's 0x01.
        self.token_error = None
        # When the accepted credential expires (ms since the epoch), if it does.
        self.credential_expiry_ms = None

    def handshake(self, body):
        (n,) = struct.unpack_from(">h", body, 0)
        mechanism = body[2 : 2 + n].decode()
        code = 0 if mechanism in MECHANISMS else UNSUPPORTED_SASL_MECHANISM
        self.mechanism = mechanism if code == 0 else None
        self.step = 0
        self.token_error = None
        out = struct.pack(">hi", code, len(MECHANISMS))
        for m in MECHANISMS:
            out += struct.pack(">h", len(m)) + m.encode()
        return out

    def authenticate(self, version, body):
        if version >= 2:
            n, at = uvarint(body, 0)
            auth = body[at : at + n - 1]
        else:
            (n,) = struct.unpack_from(">i", body, 0)
            auth = body[4 : 4 + n]
        self.credential_expiry_ms = None
        error, message, reply, done = self.exchange(auth)
        lifetime = self.session_lifetime_ms() if done and error == 0 else 0
        if done and error == 0 and self.mechanism == "OAUTHBEARER":
            stats["lifetimes_ms"].append(lifetime)
        if done and error == 0:
            if self.authenticated:
                stats["reauthenticated"] += 1
            else:
                stats["authenticated"] += 1
            self.authenticated = True
            self.expires = time.monotonic() + lifetime / 1000 if lifetime else None
        elif error:
            stats["refused"] += 1
        if version >= 2:
            out = struct.pack(">h", error)
            out += put_uvarint(0) if message is None else put_uvarint(len(message) + 1) + message.encode()
            out += put_uvarint(len(reply) + 1) + reply
            out += struct.pack(">q", lifetime) + put_uvarint(0)
        else:
            out = struct.pack(">h", error)
            out += struct.pack(">h", -1) if message is None else struct.pack(">h", len(message)) + message.encode()
            out += struct.pack(">i", len(reply)) + reply
            if version >= 1:
                out += struct.pack(">q", lifetime)
        return out

    def session_lifetime_ms(self):
        """KIP-368 as Kafka's SaslServerAuthenticator computes it: the configured lifetime,
        cut short by the credential's expiry when it has one."""
        configured = self.args["lifetime"]
        if self.credential_expiry_ms is None:
            return configured
        remaining = max(0, self.credential_expiry_ms - int(time.time() * 1000))
        return min(remaining, configured) if configured > 0 else remaining

    def exchange(self, auth):
        user, password, tamper = self.args["user"], self.args["password"], self.args["tamper"]
        if self.mechanism == "OAUTHBEARER":
            return self.oauthbearer(auth, user)
        if self.mechanism == "PLAIN":
            parts = auth.split(b"\0")
            if len(parts) == 3 and parts[1].decode() == user and parts[2].decode() == password:
                return 0, None, b"", True
            return SASL_AUTHENTICATION_FAILED, "Authentication failed: invalid credentials", b"", True
        if self.mechanism and self.mechanism.startswith("SCRAM"):
            if self.step == 0:
                mech = scramp.ScramMechanism(self.mechanism)
                info = mech.make_auth_info(password, iteration_count=4096)
                self.scram = mech.make_server(lambda name: info if name == user else None)
                try:
                    self.scram.set_client_first(auth.decode())
                except scramp.ScramException as e:
                    return SASL_AUTHENTICATION_FAILED, f"Authentication failed: {e}", b"", True
                first = self.scram.get_server_first()
                if tamper == "iterations":
                    # The client must refuse before it proves anything.
                    first = first.replace("i=4096", "i=1024")
                if tamper == "nonce":
                    attrs = dict(a.split("=", 1) for a in first.split(","))
                    first = first.replace("r=" + attrs["r"], "r=someone-else" + attrs["r"][-8:])
                self.step = 1
                return 0, None, first.encode(), False
            self.step = 0
            try:
                self.scram.set_client_final(auth.decode())
            except scramp.ScramException as e:
                return SASL_AUTHENTICATION_FAILED, f"Authentication failed: {e}", b"", True
            final = self.scram.get_server_final()
            if tamper == "signature":
                final = "v=" + base64.b64encode(b"\0" * 32).decode()
            return 0, None, final.encode(), True
        return SASL_AUTHENTICATION_FAILED, "no mechanism chosen", b"", True


    def oauthbearer(self, auth, user):
        if self.token_error is not None:
            # The client's answer to the error challenge; anything but 0x01 fails as well.
            error, self.token_error = self.token_error, None
            return SASL_AUTHENTICATION_FAILED, error, b"", True
        token = bearer_token(auth)
        claims = unsecured_claims(token) if token else None
        now = time.time()
        valid = (
            claims is not None
            and claims.get("sub") == user
            and isinstance(claims.get("exp"), (int, float))
            and claims["exp"] > now
        )
        if not valid:
            self.token_error = json.dumps({"status": "invalid_token"}, separators=(",", ":"))
            return 0, None, self.token_error.encode(), False
        stats["tokens"].append(token)
        self.credential_expiry_ms = int(claims["exp"] * 1000)
        return 0, None, b"", True


def bearer_token(auth):
    """The token of an RFC 7628 client first message `n,[a=authzid],\x01auth=Bearer
    TOKEN\x01[key=value\x01]...\x01`, or None when the message is not one."""
    try:
        text = auth.decode()
    except UnicodeDecodeError:
        return None
    if not text.startswith("n,") or not text.endswith("\x01\x01"):
        return None
    parts = text.split("\x01")
    token = None
    for part in parts[1:-2]:
        key, sep, value = part.partition("=")
        if not sep:
            return None
        if key == "auth":
            scheme, _, token = value.partition(" ")
            if scheme.lower() != "bearer":
                return None
    return token or None


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def unsecured_claims(token):
    """The claims of an unsecured JWS (header {"alg":"none"}, empty signature), or None."""
    parts = token.split(".")
    if len(parts) != 3 or parts[2] != "":
        return None
    try:
        header = json.loads(b64url(parts[0]))
        claims = json.loads(b64url(parts[1]))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or header.get("alg") != "none" or not isinstance(claims, dict):
        return None
    return claims


async def frames(reader):
    while True:
        size = await reader.readexactly(4)
        (n,) = struct.unpack(">i", size)
        yield await reader.readexactly(n)


async def serve(client_r, client_w, args):
    stats["connections"] += 1
    save(args["stats"])
    host, port = args["broker"].rsplit(":", 1)
    broker_r, broker_w = await asyncio.open_connection(host, int(port))
    session = Session(args)
    lock = asyncio.Lock()

    async def back():
        try:
            async for frame in frames(broker_r):
                async with lock:
                    client_w.write(struct.pack(">i", len(frame)) + frame)
                    await client_w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        client_w.close()

    pump = asyncio.create_task(back())
    try:
        async for frame in frames(client_r):
            api, version, correlation, at = parse_header(frame)
            body = frame[at:]
            if api in (SASL_HANDSHAKE, SASL_AUTHENTICATE):
                reply = session.handshake(body) if api == SASL_HANDSHAKE else session.authenticate(version, body)
                header = struct.pack(">i", correlation)
                if api == SASL_AUTHENTICATE and version >= 2:
                    header += put_uvarint(0)
                # Counted before the answer goes out: a client that reads the stats after
                # the answer finds it counted.
                save(args["stats"])
                async with lock:
                    out = header + reply
                    client_w.write(struct.pack(">i", len(out)) + out)
                    await client_w.drain()
                continue
            if api != 18 and not session.authenticated:
                break
            if session.expires is not None and time.monotonic() > session.expires:
                stats["expired"] += 1
                save(args["stats"])
                break
            broker_w.write(struct.pack(">i", len(frame)) + frame)
            await broker_w.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        pump.cancel()
        broker_w.close()
        client_w.close()


async def main():
    port, broker, user, password, lifetime, stats_file = sys.argv[1:7]
    tamper = sys.argv[7] if len(sys.argv) > 7 else None
    args = {
        "broker": broker,
        "user": user,
        "password": password,
        "lifetime": int(lifetime),
        "stats": stats_file,
        "tamper": tamper,
    }
    save(stats_file)
    server = await asyncio.start_server(lambda r, w: serve(r, w, args), "127.0.0.1", int(port))
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
