-- push-new.lua - wrk script: POST pushes, each of a chart never pushed before (its own
-- tar, so its own blob to store: what a registry receiving new charts does, unlike
-- push.lua whose pushes share one blob). The chart is made here per request: a tar of
-- NAME/Chart.yaml (version = the release) and NAME/n (the request's number), in a
-- gzip of stored (not deflated) blocks, base64-encoded into the push body.
-- Environment: PUSH_PATH (e.g. /api/v1/packages/pushns/chart), PUSH_RUN (a number
-- unique to this wrk run: the major version, so that runs never collide).
-- Release = RUN.THREAD.COUNTER.

local bit = require("bit")
local path, run, name
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("id", threads)
end

local crc_table = {}
for i = 0, 255 do
	local c = i
	for _ = 1, 8 do
		if bit.band(c, 1) == 1 then
			c = bit.bxor(0xEDB88320, bit.rshift(c, 1))
		else
			c = bit.rshift(c, 1)
		end
	end
	crc_table[i] = c
end

local function crc32(s)
	local c = 0xFFFFFFFF
	for i = 1, #s do
		c = bit.bxor(crc_table[bit.band(bit.bxor(c, s:byte(i)), 0xFF)], bit.rshift(c, 8))
	end
	return bit.bxor(c, 0xFFFFFFFF)
end

local function le(n, bytes)
	local t = {}
	for i = 1, bytes do
		t[i] = string.char(bit.band(bit.rshift(n, 8 * (i - 1)), 0xFF))
	end
	return table.concat(t)
end

local function octal(n, width)
	return string.format("%0" .. (width - 1) .. "o", n) .. "\0"
end

-- one ustar member: 512-byte header (checksum over it with the field as spaces), data
-- padded to 512
local function member(file, data)
	local h = file .. string.rep("\0", 100 - #file) .. octal(420, 8) .. octal(0, 8) ..
		octal(0, 8) .. octal(#data, 12) .. octal(0, 12) .. "        " .. "0" ..
		string.rep("\0", 100) .. "ustar\0" .. "00"
	h = h .. string.rep("\0", 512 - #h)
	local sum = 0
	for i = 1, #h do
		sum = sum + h:byte(i)
	end
	h = h:sub(1, 148) .. string.format("%06o", sum) .. "\0 " .. h:sub(157)
	return h .. data .. string.rep("\0", (512 - #data % 512) % 512)
end

local function gzip_stored(s)
	return "\31\139\8\0\0\0\0\0\0\255" .. "\1" .. le(#s, 2) ..
		le(bit.band(bit.bnot(#s), 0xFFFF), 2) .. s .. le(crc32(s), 4) .. le(#s, 4)
end

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
	local out = {}
	for i = 1, #s, 3 do
		local a, b, c = s:byte(i, i + 2)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local q = {}
		for k = 1, 4 do
			local v = bit.band(bit.rshift(n, 6 * (4 - k)), 63)
			q[k] = b64chars:sub(v + 1, v + 1)
		end
		if not b then q[3] = "=" end
		if not c then q[4] = "=" end
		out[#out + 1] = table.concat(q)
	end
	return table.concat(out)
end

function init(args)
	path = os.getenv("PUSH_PATH")
	run = os.getenv("PUSH_RUN") or "1"
	name = path:match("([^/]+)$")
	counter = 0
end

function request()
	counter = counter + 1
	local release = run .. "." .. id .. "." .. counter
	local tar = member(name .. "/Chart.yaml", "apiVersion: v2\nname: " .. name ..
			   "\nversion: " .. release .. "\n") ..
		member(name .. "/n", release .. "\n") .. string.rep("\0", 1024)
	local body = '{"blob":"' .. base64(gzip_stored(tar)) .. '","release":"' .. release ..
		'","media_type":"helm"}'
	return wrk.format("POST", path, { ["Content-Type"] = "application/json" }, body)
end

function response(status, headers, body)
	if status ~= 200 then
		io.stderr:write("push-new: " .. status .. " " .. body .. "\n")
	end
end
