-- push.lua - wrk script: POST pushes of one small chart, each as a new release.
-- Environment: PUSH_BODY_FILE (the base64 of the .tar.gz, one line), PUSH_PATH
-- (e.g. /api/v1/packages/pushns/chart), PUSH_RUN (a number unique to this wrk run:
-- the major version, so that runs never collide). Release = RUN.THREAD.COUNTER.

local blob, path, run
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("id", threads)
end

function init(args)
	local f = assert(io.open(os.getenv("PUSH_BODY_FILE"), "r"))
	blob = f:read("*l")
	f:close()
	path = os.getenv("PUSH_PATH")
	run = os.getenv("PUSH_RUN") or "1"
	counter = 0
end

function request()
	counter = counter + 1
	local body = '{"blob":"' .. blob .. '","release":"' .. run .. "." .. id .. "." ..
		counter .. '","media_type":"helm"}'
	return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end
