"""Smoke run with redis-py (the PyPI `redis` package, RESP3 by default in
current versions): connect and use the basics exactly as an application
would. Usage: python3 tests/smoke/redis_py.py PORT [UNIX_SOCKET]"""
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
# A plain pipeline, and redis-py's default one: a MULTI/EXEC transaction.
pipe = r.pipeline(transaction=False)
pipe.set("p", "1").incr("p").get("p")
assert pipe.execute() == [True, 2, "2"]
pipe = r.pipeline()
pipe.set("stock", 10).decr("stock").decr("stock").get("stock")
assert pipe.execute() == [True, 9, 8, "8"]
# A check-and-set with WATCH, as redis-py's transaction() helper runs it.
def take_one(p):
    n = int(p.get("stock"))
    p.multi()
    p.set("stock", n - 1)
assert r.transaction(take_one, "stock") == [True]
assert r.get("stock") == "7"
# A transaction that fails while queueing leaves nothing applied.
pipe = r.pipeline()
pipe.decr("stock").execute_command("NOSUCHCOMMAND")
try:
    pipe.execute()
    raise AssertionError("EXEC should have failed")
except redis.exceptions.ResponseError:
    pass
assert r.get("stock") == "7"
# Pub/sub: a subscriber gets what another connection publishes.
ps = r.pubsub()
ps.subscribe("news")
ps.psubscribe("n*")
deadline = time.time() + 10
while time.time() < deadline and len([m for m in [ps.get_message(timeout=0.1)] if m]) == 0:
    pass
assert r.publish("news", "hello") == 2
got = []
deadline = time.time() + 10
while len(got) < 2 and time.time() < deadline:
    m = ps.get_message(timeout=0.1, ignore_subscribe_messages=True)
    if m:
        got.append((m["type"], m["channel"], m["data"]))
assert sorted(got) == [("message", "news", "hello"), ("pmessage", "news", "hello")], got
assert r.pubsub_numsub("news") == [("news", 1)]
ps.close()
# Keyspace notifications reach a pattern subscriber.
r.config_set("notify-keyspace-events", "KEA")
ps = r.pubsub(ignore_subscribe_messages=True)
ps.psubscribe("__keyevent@0__:*")
ps.get_message(timeout=1)
r.set("watched", "1")
m = None
deadline = time.time() + 10
while m is None and time.time() < deadline:
    m = ps.get_message(timeout=0.1)
assert m and m["channel"] == "__keyevent@0__:set" and m["data"] == "watched", m
ps.close()
r.config_set("notify-keyspace-events", "")
# redis-py's Lock: acquire, a second owner refused, extend and release by
# its Lua scripts (EVALSHA after SCRIPT LOAD), then free for another.
lock = r.lock("resource", timeout=10)
assert lock.acquire(blocking=False)
other = r.lock("resource", timeout=10)
assert not other.acquire(blocking=False)
assert lock.extend(5) and lock.owned()
assert 10000 < r.pttl("resource") <= 15000, r.pttl("resource")
assert lock.reacquire()
lock.release()
assert not lock.owned()
assert other.acquire(blocking=False)
other.release()
try:
    lock.release()
    raise AssertionError("releasing a lock not held should fail")
except redis.exceptions.LockError:
    pass
# A registered script (register_script: EVALSHA, then EVAL on NOSCRIPT).
r.script_flush()
incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
assert incr_by(keys=["script-counter"], args=[5]) == 5
assert incr_by(keys=["script-counter"], args=[2]) == 7
# ACL through redis-py's API, and a connection that logs in as a user
# (username= / password=, as managed-Redis users connect).
assert r.acl_setuser("app", enabled=True, passwords=["+s3cret"], commands=["+get", "+set", "+ping"], keys=["app:*"])
u = r.acl_getuser("app")
assert "on" in u["flags"] and "+get" in u["commands"] and "~app:*" in u["keys"], u
app = redis.Redis(port=port, username="app", password="s3cret", decode_responses=True)
assert app.ping() and app.set("app:x", "1") and app.get("app:x") == "1"
try:
    app.get("other")
    raise AssertionError("a key outside app:* should be refused")
except redis.exceptions.NoPermissionError:
    pass
entry = r.acl_log(count=1)[0]
assert entry["reason"] == "key" and entry["object"] == "other" and entry["username"] == "app", entry
try:
    app.acl_whoami()
    raise AssertionError("ACL WHOAMI is not among the user's commands")
except redis.exceptions.NoPermissionError:
    pass
assert r.acl_deluser("app") == 1
try:
    redis.Redis(port=port, username="app", password="s3cret").ping()
    raise AssertionError("a deleted user cannot log in")
except redis.exceptions.AuthenticationError:
    pass
if len(sys.argv) > 2:
    # The same server over its Unix socket (`unixsocket`).
    u = redis.Redis(unix_socket_path=sys.argv[2], decode_responses=True)
    assert u.set("via-unix", "yes") is True
    assert r.get("via-unix") == "yes"
    assert "U" in u.client_info()["flags"], u.client_info()
resp = r.client_info()["resp"]
print(f"redis-py {redis.__version__} smoke run: ok (the client chose RESP{resp})")
