-- wrk: GET /v1/movies/<id>/similar for random movie ids (one per line of $IDS).
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
math.randomseed(os.time() + tonumber(tostring(ids):match("0x(%x+)") or "1", 16))
request = function()
    return wrk.format("GET", "/v1/movies/" .. ids[math.random(#ids)] .. "/similar?n=10")
end
