"""Smoke run with redis-py (the PyPI `redis` package, RESP3 by default in
current versions): connect and use the basics exactly as an application
would. Usage: python3 tests/smoke/redis_py.py PORT"""
import sys
import time

import redis

port = int(sys.argv[1])
r = redis.Redis(port=port, decode_responses=True, client_name="smoke")
assert r.ping() is True
assert r.flushall() is True
assert r.set("greeting", "hello") is True
assert r.get("greeting") == "hello"
assert r.incr("counter") == 1
assert r.incrby("counter", 41) == 42
assert r.expire("greeting", 100) is True
assert 99 <= r.ttl("greeting") <= 100
assert r.set("short", "v", px=100) is True
deadline = time.time() + 10
while r.exists("short") and time.time() < deadline:
    time.sleep(0.05)
assert r.get("short") is None
clients = r.client_list()
assert any(c.get("name") == "smoke" for c in clients), clients
info = r.info()
assert info["redis_version"] == "7.0.15", info.get("redis_version")
assert info["db0"]["keys"] >= 2, info["db0"]
assert r.config_get("maxclients") == {"maxclients": "10000"}
assert r.mset({"a": "1", "b": "2"}) is True
assert r.mget("a", "b", "nope") == ["1", "2", None]
assert r.delete("a", "b") == 2
# A plain pipeline (MULTI/EXEC transactions are not in rudis yet).
pipe = r.pipeline(transaction=False)
pipe.set("p", "1").incr("p").get("p")
assert pipe.execute() == [True, 2, "2"]
resp = r.client_info()["resp"]
print(f"redis-py {redis.__version__} smoke run: ok (the client chose RESP{resp})")
