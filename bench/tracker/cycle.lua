-- wrk script for the tracker benchmark: requests the paths of the URLs in
-- the file given after "--" in turn, each thread starting at its own place
-- in the list so that threads do not hit the same token at once.
local paths = {}
local i = 0
local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

function init(args)
  for line in io.lines(args[1]) do
    local p = line:gsub("^https?://[^/]+", "")
    if #p > 0 then paths[#paths + 1] = p end
  end
  if #paths == 0 then error("no URLs in " .. tostring(args[1])) end
  i = ((tid or 0) * 7919) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
