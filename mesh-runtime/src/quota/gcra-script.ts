/**
 * One quota decision in Redis, atomic across every rule that applies to the request (their keys
 * share the `{tenant}` hash tag, so this works on Redis Cluster). The arithmetic is `gcra.ts`'s.
 *
 * KEYS: one TAT key per rule. ARGV, five per rule: want (a lease, or the cost), min (the cost),
 * interval µs, depth, shadow (1/0). Each rule is granted `want` if it fits, else `min` if that
 * fits, else nothing. The request passes when every non-shadow rule got something; only then are
 * the TATs written. Time is Redis `TIME`, so instances' clocks never matter.
 * Returns: ok (1/0), then per rule: granted, retry-after µs, remaining tokens.
 */
export const GCRA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ok = 1
local out = {}
local tats = {}
for i = 1, #KEYS do
  local o = (i - 1) * 5
  local want = tonumber(ARGV[o + 1])
  local min = tonumber(ARGV[o + 2])
  local interval = tonumber(ARGV[o + 3])
  local depth = tonumber(ARGV[o + 4])
  local shadow = ARGV[o + 5] == '1'
  local base = now
  local stored = redis.call('GET', KEYS[i])
  if stored then
    local s = tonumber(stored)
    if s > now then base = s end
  end
  local got = 0
  if base + want * interval - depth * interval <= now then
    got = want
  elseif base + min * interval - depth * interval <= now then
    got = min
  end
  local retry = 0
  if got == 0 then
    retry = base + min * interval - depth * interval - now
    if not shadow then ok = 0 end
  end
  local remaining = math.floor((now - (base + got * interval - depth * interval)) / interval)
  if remaining < 0 then remaining = 0 end
  tats[i] = base + got * interval
  out[#out + 1] = got
  out[#out + 1] = math.floor(retry)
  out[#out + 1] = remaining
end
if ok == 1 then
  for i = 1, #KEYS do
    if tats[i] > now then
      redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1000)
    end
  end
end
table.insert(out, 1, ok)
return out
`;
