-- wrk: a mix of what the pages ask: recommendations (logged in), a movie
-- page, similar movies, search, a genre list, and a rating now and then.
local tokens, ids, words = {}, {}, {}
for line in io.lines(os.getenv("TOKENS")) do tokens[#tokens + 1] = line end
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
for line in io.lines(os.getenv("WORDS")) do words[#words + 1] = line end
math.randomseed(os.time() + tonumber(tostring(ids):match("0x(%x+)") or "1", 16))
request = function()
    local r = math.random(100)
    local c = {["Cookie"] = "session=" .. tokens[math.random(#tokens)]}
    local id = ids[math.random(#ids)]
    if r <= 30 then
        return wrk.format("GET", "/v1/me/recommendations?n=10", c)
    elseif r <= 55 then
        return wrk.format("GET", "/v1/movies/" .. id, c)
    elseif r <= 75 then
        return wrk.format("GET", "/v1/movies/" .. id .. "/similar?n=10")
    elseif r <= 90 then
        return wrk.format("GET", "/v1/search?per_page=8&q=" .. words[math.random(#words)])
    elseif r <= 97 then
        return wrk.format("GET", "/v1/movies?sort=rating&per_page=20&genre=Drama")
    else
        c["Content-Type"] = "application/json"
        return wrk.format("PUT", "/v1/me/ratings/" .. id, c,
                          '{"score":' .. (math.random(10) / 2) .. '}')
    end
end
