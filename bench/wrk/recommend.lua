-- wrk: GET /v1/me/recommendations as many logged-in users (one session
-- token per line of $TOKENS), a random one per request.
local tokens = {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
math.randomseed(os.time() + tonumber(tostring(tokens):match("0x(%x+)") or "1", 16))
request = function()
    local t = tokens[math.random(#tokens)]
    return wrk.format("GET", "/v1/me/recommendations?n=10", {["Cookie"] = "session=" .. t})
end
