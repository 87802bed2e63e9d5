-- Closed-loop saturation with wrk: each request carries a token picked at random from a file,
-- so the per-user rate limits see a crowd, not one looping client.
--   wrk -t1 -c32 -d10s -s random_token.lua URL -- METHOD TOKENS_FILE [BODY] [etag]
-- With "etag", a thread sends back the last ETag it saw (If-None-Match), as the real client does.
-- done() prints one line: "statuses <code>=<count> ..." for the harness to parse.

local method, tokens, body, use_etag = "GET", {}, nil, false
local etag = nil
local threads = {}
statuses = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   method = args[1] or "GET"
   for line in io.lines(args[2]) do
      if #line > 0 then tokens[#tokens + 1] = line end
   end
   if args[3] and #args[3] > 0 then body = args[3] end
   use_etag = args[4] == "etag"
   math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
end

function request()
   local headers = { ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)] }
   if body then headers["Content-Type"] = "application/json" end
   if use_etag and etag then headers["If-None-Match"] = etag end
   return wrk.format(method, nil, headers, body)
end

function response(status, headers, _)
   statuses[status] = (statuses[status] or 0) + 1
   if use_etag and status == 200 then etag = headers["ETag"] or headers["etag"] or etag end
end

function done(summary, latency, requests)
   local merged = {}
   for _, thread in ipairs(threads) do
      local counts = thread:get("statuses")
      for code, count in pairs(counts) do merged[code] = (merged[code] or 0) + count end
   end
   local parts = {}
   for code, count in pairs(merged) do parts[#parts + 1] = code .. "=" .. count end
   io.write("statuses " .. table.concat(parts, " ") .. "\n")
   io.write(string.format("latency_us p50=%d p99=%d\n", latency:percentile(50), latency:percentile(99)))
end
