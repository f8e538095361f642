--[[
  Moves the last-bar state of series from the key names used before hash tags (issue 18) to the
  current ones, atomically per call, without losing what either holds. Safe to run while workers
  run and to run again. Loaded by shared/adapters/last-bar-migration.ts (defineCommand `biMoveLegacy`).
  Single Redis only: the old keys of a series are in different hash slots.

  KEYS (four per series i = 1..n, n = #KEYS / 4):
    KEYS[4i-3]  <ns>last:<seriesId>      old last bar open time (ms)
    KEYS[4i-2]  <ns>claims:<seriesId>    old claim journal (field -> "<afterMs>|<uptoMs>")
    KEYS[4i-1]  <ns>last:{<seriesId>}    new last bar open time
    KEYS[4i]    <ns>claims:{<seriesId>}  new claim journal
  ARGV: none.
  Reply: { series moved, claims moved }.
    last:   the later of the two times (a range up to the later one was claimed by some worker,
            and each claim not yet released is in a journal);
    claims: every old field is added to the new journal (fields are unique per flush), so an
            abandoned claim is still taken over by the next flush of its series.
]]
local series, claims = 0, 0
for i = 1, #KEYS / 4 do
  local oldLast, oldClaims, newLast, newClaims = KEYS[4 * i - 3], KEYS[4 * i - 2], KEYS[4 * i - 1], KEYS[4 * i]
  local moved = false
  local old = redis.call('GET', oldLast)
  if old then
    local cur = redis.call('GET', newLast)
    if not cur or tonumber(old) > tonumber(cur) then redis.call('SET', newLast, old) end
    redis.call('DEL', oldLast)
    moved = true
  end
  local fields = redis.call('HGETALL', oldClaims)
  for j = 1, #fields, 2 do
    claims = claims + redis.call('HSETNX', newClaims, fields[j], fields[j + 1])
  end
  if #fields > 0 then
    redis.call('DEL', oldClaims)
    moved = true
  end
  if moved then series = series + 1 end
end
return { series, claims }
