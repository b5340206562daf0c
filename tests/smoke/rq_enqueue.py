"""Smoke run with rq (the PyPI job queue on redis-py): enqueueing runs a
MULTI/EXEC pipeline of HSET, SADD and RPUSH, as an application's web
process would. The worker's side needs sorted sets and streams (issues
#14 and #15), so only the enqueue half runs here.
Usage: python3 tests/smoke/rq_enqueue.py PORT"""
import sys

import redis
import rq

port = int(sys.argv[1])
r = redis.Redis(port=port)
r.flushall()
q = rq.Queue("smoke", connection=r)
job = q.enqueue("builtins.len", "four")
assert q.count == 1, q.count
assert q.job_ids == [job.id], q.job_ids
fetched = rq.job.Job.fetch(job.id, connection=r)
assert fetched.func_name == "builtins.len", fetched.func_name
assert fetched.get_status() == "queued", fetched.get_status()
assert r.sismember("rq:queues", "rq:queue:smoke")
print(f"rq {rq.__version__} smoke run: ok (one job enqueued)")
