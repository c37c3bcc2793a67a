"""YIZHAN_TRUSTED_PROXIES: behind a proxy the client address (rate limits, logs)
comes from X-Real-IP / X-Forwarded-For — but only when the peer is a trusted proxy."""
import uuid

from helpers import Api, query


def login_keys(db):
    return {r["key"] for r in query(db, "SELECT key FROM rate_limits WHERE key LIKE 'login_limit_per_ip:%%'")}


def test_forwarded_address_is_used_only_from_a_trusted_proxy(spawn, db):
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.test"
    trusted = spawn(env={"YIZHAN_TRUSTED_PROXIES": "10.9.9.9, 127.0.0.1"})
    api = Api(trusted.url)
    api.post("/api/v1/auth/login", json={"email": email, "password": "x" * 12}, headers={"X-Real-IP": "203.0.113.7"})
    api.post("/api/v1/auth/login", json={"email": email, "password": "x" * 12},
             headers={"X-Forwarded-For": "198.51.100.1, 198.51.100.23"})
    keys = login_keys(db)
    assert "login_limit_per_ip:203.0.113.7" in keys
    assert "login_limit_per_ip:198.51.100.23" in keys   # the hop the proxy appended
    assert "login_limit_per_ip:198.51.100.1" not in keys
    # a malformed header falls back to the peer
    api.post("/api/v1/auth/login", json={"email": email, "password": "x" * 12}, headers={"X-Real-IP": "'; DROP"})
    assert "login_limit_per_ip:'; DROP" not in login_keys(db)

    untrusted = spawn()  # no proxies trusted: a client cannot choose its own address
    Api(untrusted.url).post("/api/v1/auth/login", json={"email": email, "password": "x" * 12},
                                 headers={"X-Real-IP": "192.0.2.99"})
    assert "login_limit_per_ip:192.0.2.99" not in login_keys(db)
