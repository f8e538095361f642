--[[
  Advances last_bar_time for every series of a flush and journals the range each claim covers,
  atomically, so two workers that see the same series at once claim disjoint ranges of it.
  Loaded once by shared/adapters/last-bar-store.ts (ioredis defineCommand `biClaim`).
  On a single Redis one call covers the whole flush; on a Redis Cluster there is one call per hash
  slot (the series id in braces is the hash tag, so both keys of a series share a slot).

  KEYS (two per series i = 1..n, n = #KEYS / 2):
    KEYS[2i-1]  <ns>last:{<seriesId>}    string: last bar open time (ms) seen for the series
    KEYS[2i]    <ns>claims:{<seriesId>}  hash:   claim field -> "<afterMs>|<uptoMs>"
  ARGV:
    ARGV[1]     token: unique per flush; claim fields are "<token>:<i>" (i within this call; a
                series appears once per call, so a field is unique in its series' journal)
    ARGV[2i]    the flush's latest bar open time for series i (ms)
    ARGV[2i+1]  seed for series i when Redis has no last_bar_time: "<ms>" (PostgreSQL's last bar
                before the flush), "" (the series has no bar yet) or "?" (not looked up: claim nothing)
  Reply: one entry per series, { previous, claims }:
    previous    last_bar_time before this flush ("" none, "?" needs a seed and nothing was claimed)
    claims      flat HGETALL of the series' journal: this flush's claim and any abandoned ones
]]
local out = {}
local token = ARGV[1]
for i = 1, #KEYS / 2 do
  local lastKey, claimsKey = KEYS[2 * i - 1], KEYS[2 * i]
  local maxTs, seed = ARGV[2 * i], ARGV[2 * i + 1]
  local cur = redis.call('GET', lastKey)
  if not cur then cur = seed end
  if cur == '?' then
    out[i] = { '?', {} }
  else
    if cur == '' or tonumber(maxTs) > tonumber(cur) then
      redis.call('SET', lastKey, maxTs)
      redis.call('HSET', claimsKey, token .. ':' .. i, cur .. '|' .. maxTs)
    end
    out[i] = { cur, redis.call('HGETALL', claimsKey) }
  end
end
return out
