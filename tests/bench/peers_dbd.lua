-- The bare one-query mod_dbd handler (tests/bench/mod_bench_bare.c) under the
-- peers rig's load (tests/bench/peers.py): /bench/dbd?id=<meeting> for the
-- meetings of the rig's token file, pre-formatted as the rig's a.lua does.
package.path = os.getenv("WRK_LUA_DIR") .. "/?.lua;" .. package.path
local pairs_ = require("pairs")
local threads = 0
local reqs, n

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
  reqs = pairs_.load(function(mid, uid, tok)
    return wrk.format("GET", "/bench/dbd?id=" .. mid)
  end)
  n = #reqs
end

function request()
  return reqs[math.random(n)]
end
