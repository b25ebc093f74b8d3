-- wrk script: POST texts to one group's timeline, each with a distinct Idempotency-Key.
-- Needs TALKO_TOKEN and TALKO_GROUP in the environment (run.sh sets them).
local token = os.getenv("TALKO_TOKEN")
local group = os.getenv("TALKO_GROUP")
local threads = {}
local counter = 0
local thread_id = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
  wrk.method = "POST"
  wrk.path = "/v1/groups/" .. group .. "/items"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local key = string.format("load-%d-%d-%d", thread_id, counter, os.time())
  wrk.headers["Idempotency-Key"] = key
  local body = string.format('{"text":"load message %d from thread %d #load"}', counter, thread_id)
  return wrk.format(nil, nil, nil, body)
end

local bad = 0
function response(status, headers, body)
  if status ~= 201 then
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
