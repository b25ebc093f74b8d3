-- wrk script: GET a page (20 items) of one group's timeline.
-- Needs TALKO_TOKEN and TALKO_GROUP in the environment (run.sh sets them).
local token = os.getenv("TALKO_TOKEN")
local group = os.getenv("TALKO_GROUP")

function init(args)
  wrk.method = "GET"
  wrk.path = "/v1/groups/" .. group .. "/items?limit=20"
  wrk.headers["Authorization"] = "Bearer " .. token
end

local bad = 0
function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
    if bad <= 3 then
      print("unexpected status " .. status .. ": " .. body)
    end
  end
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx or socket errors: %d/%d\n",
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.requests))
end
