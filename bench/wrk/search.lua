-- wrk: GET /v1/search?q=<word> for random title words and prefixes (one
-- per line of $WORDS), as a search box's live suggestions ask.
local words = {}
for line in io.lines(os.getenv("WORDS")) do words[#words + 1] = line end
math.randomseed(os.time() + tonumber(tostring(words):match("0x(%x+)") or "1", 16))
request = function()
    return wrk.format("GET", "/v1/search?per_page=8&q=" .. words[math.random(#words)])
end
