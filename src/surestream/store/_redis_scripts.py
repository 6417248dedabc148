"""The Lua scripts of ``RedisStore``: every write is one of them, so check and write are atomic.

KEYS are always a stream's keys in this order: ``events``, ``meta``, ``lease``, ``watch``,
``gone``, and for the scripts that count readers a sixth, ``readers``. The keys of a stream
share one hash tag (``{prefix}{<id>}:…``) so the scripts also run on Redis Cluster; with
the store's two keys of its own, the layout is::

    {p}{id}:events   stream     the journal
    {p}{id}:meta     hash       owner/model (JSON), created, next, terminal, leased, bytes
    {p}{id}:lease    string     the producer's token, PX lease_ttl, renewed by heartbeat
    {p}{id}:watch    zset       member (one process with subscribers) -> expiry (ms, Redis TIME)
    {p}{id}:readers  hash       member -> its subscribers (the cap on readers across processes)
    {p}{id}:gone     string     the tombstone; outlives the rest by tombstone_ttl
    {p}secret        string     the gateways' shared secret (``RedisStore.shared_secret``)
    {p}doorbell      stream     the journals each append pipeline wrote to, the last ~1000
"""

from __future__ import annotations

__all__ = ["APPEND", "CREATE", "HEARTBEAT", "JOIN", "LEAVE", "RELEASE", "WATCH"]

APPEND = """
local meta = redis.call('HMGET', KEYS[2], 'next', 'terminal', 'leased', 'bytes')
if not meta[1] then return {-3, -1} end
local seq = tonumber(meta[1])
if ARGV[7] ~= '' and tonumber(ARGV[7]) ~= seq then
  local last = seq - 1
  local index = last - tonumber(ARGV[7]) + 1
  local same = 0
  if index >= 1 and index <= #ARGV - 7 then
    local entry = redis.call('XRANGE', KEYS[1], last .. '-1', last .. '-1')
    if entry[1] and entry[1][2][2] == ARGV[7 + index] then same = 1 end
  end
  return {-5, last, meta[2], same}
end
if meta[2] == '1' then return {-1, seq - 1} end
if ARGV[6] == 'l' and (meta[3] ~= '1' or redis.call('EXISTS', KEYS[3]) == 1) then
  return {-4, seq - 1}
end
local first = seq
local cap = tonumber(ARGV[1]) - 1
local max_bytes = tonumber(ARGV[4])
local size = tonumber(meta[4] or '0')
local n = #ARGV - 7
local term = ARGV[5] == '1'
local body = n
if term then body = n - 1 end
local status = 0
for i = 1, body do
  local event = ARGV[7 + i]
  if seq >= cap or size + #event > max_bytes then
    status = -2
    break
  end
  redis.call('XADD', KEYS[1], seq .. '-1', 'e', event)
  size = size + #event
  seq = seq + 1
end
if status == 0 and term then
  redis.call('XADD', KEYS[1], seq .. '-1', 'e', ARGV[7 + n])
  seq = seq + 1
  redis.call('HSET', KEYS[2], 'next', seq, 'terminal', 1, 'bytes', size)
  redis.call('DEL', KEYS[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
  redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[2]) + tonumber(ARGV[3]))
else
  redis.call('HSET', KEYS[2], 'next', seq, 'bytes', size)
  if first == 0 and seq > 0 then
    local ttl = redis.call('PTTL', KEYS[2])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
  end
end
return {status, seq - 1}
"""
"""Append a batch (``a`` mode) or ``producer_lost`` if the lease is gone (``l``); ARGV:
max_events, retention ms, tombstone ms, max_bytes, terminal flag, mode, expected seq, events
(every event but a terminal one counts its bytes toward max_bytes).
Returns ``{status, last seq[, terminal, same]}``: 0 appended, -1 ended, -2 full, -3 missing, -4
(``l``) lease alive or never taken, -5 the journal is at another seq than expected (``same``:
its last entry is this batch's event for that seq, so an earlier attempt of it went in)."""

CREATE = """
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then
  if ARGV[3] ~= '' and redis.call('GET', KEYS[3]) == ARGV[3] then return 1 end
  return 0
end
local leased = 0
if ARGV[3] ~= '' then leased = 1 end
redis.call('HSET', KEYS[2], 'who', ARGV[1], 'created', ARGV[2], 'next', 0, 'terminal', 0,
           'leased', leased)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[5]) + tonumber(ARGV[6]))
if leased == 1 then redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4]) end
return 1
"""
"""Create the meta hash, tombstone and lease (idempotent for the same lease token)."""

HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local term = redis.call('HGET', KEYS[2], 'terminal')
if not term then return {0, 0, 0} end
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local watchers = redis.call('ZCARD', KEYS[4])
if term == '1' then return {1, 1, watchers} end
redis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[4], ARGV[3])
redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[3]) + tonumber(ARGV[4]))
return {1, 0, watchers}
"""
"""Renew a lease and every key's expiry; report ``{exists, terminal, watchers}``."""

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_KEEP_WATCH = """
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[2]), ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[4], ttl)
  redis.call('PEXPIRE', KEYS[6], ttl)
end
return 1
"""
"""The tail of WATCH and JOIN: member ARGV[1]'s watch until ``now`` + ARGV[2] ms; the watch
and reader keys expire with the meta hash."""

WATCH = (
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[6], ARGV[1], ARGV[3])
"""
    + _NOW
    + _KEEP_WATCH
)
"""Add or refresh a watcher (a process with subscribers) until Redis ``TIME`` + ttl, with its
reader count; ARGV: member, ttl ms, readers."""

JOIN = (
    """
if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end
"""
    + _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
local limit = tonumber(ARGV[3])
if limit >= 0 then
  local counts = redis.call('HGETALL', KEYS[6])
  local total = 0
  for i = 1, #counts, 2 do
    if redis.call('ZSCORE', KEYS[4], counts[i]) then
      total = total + tonumber(counts[i + 1])
    else
      redis.call('HDEL', KEYS[6], counts[i])
    end
  end
  if total >= limit then return 0 end
end
redis.call('HINCRBY', KEYS[6], ARGV[1], 1)
"""
    + _KEEP_WATCH
)
"""One more reader in process ARGV[1] (watch refreshed for ARGV[2] ms) unless the live
processes already have ARGV[3] readers (-1: no limit); 0 when refused. The counts of
processes whose watch expired are dropped first."""

LEAVE = """
if redis.call('HEXISTS', KEYS[6], ARGV[1]) == 0 then
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 0
end
if redis.call('HINCRBY', KEYS[6], ARGV[1], -1) <= 0 then
  redis.call('HDEL', KEYS[6], ARGV[1])
  redis.call('ZREM', KEYS[4], ARGV[1])
end
return 1
"""
"""One reader fewer in process ARGV[1]; its last reader ends its watch."""

RELEASE = """
if redis.call('GET', KEYS[3]) == ARGV[1] then return redis.call('DEL', KEYS[3]) end
return 0
"""
"""Drop the lease if it is still ours."""
