-- latent.nvim's completion path against a scripted stand-in for latentd (fake_latentd.mjs), in
-- a second Neovim driven like a user: the first line of a completion, sent as a partial result,
-- is shown before the response brings the whole of it, and typing what the ghost text shows
-- shrinks it without another request.
local t = require('spec')
local child = require('child')

t.describe('latent.nvim: first line first and type-through', function()
  local root = child.workspace()
  local c = child.start(root)
  local log = root .. '/requests.jsonl'
  c.lua([[
    local node, script, log = ...
    require('latent').setup({ cmd = { 'env', 'FAKE_LOG=' .. log, node, script } })
    vim.cmd('edit math.c')
  ]], vim.fn.exepath('node'), vim.fn.fnamemodify('fake_latentd.mjs', ':p'), log)

  local function shown()
    return c.lua([[
      local v = require('latent.completion').visible()
      return v and v.text or false
    ]])
  end
  local function completion_requests()
    local n = 0
    for _, line in ipairs(vim.fn.filereadable(log) == 1 and vim.fn.readfile(log) or {}) do
      if line:find('"textDocument/inlineCompletion"', 1, true) then
        n = n + 1
      end
    end
    return n
  end

  t.it('attaches the stand-in daemon', function()
    t.wait_for(15000, function()
      return c.lua([[
        local cl = require('latent.client').get(0)
        return cl ~= nil and cl.initialized == true
      ]])
    end, 'latent client initialized')
  end)

  t.it('shows the first line as soon as it comes, then the whole completion', function()
    c.input('Gox')
    -- The stand-in answers 1.5 s after its partial result.
    t.wait_for(1000, function() return shown() == 'first();' end, 'the first line before the response')
    t.wait_for(5000, function() return shown() == 'first();\nsecond();' end, 'the whole completion')
  end)

  t.it('typing what the ghost text shows shrinks it without asking again', function()
    local before = completion_requests()
    c.input('fir')
    local ok = pcall(t.wait_for, 2000, function() return shown() == 'st();\nsecond();' end)
    t.truthy(ok, 'the rest of the completion; shown: ' .. vim.inspect(shown()) .. ', lines ' .. vim.inspect(c.lines()))
    t.eq(before, completion_requests(), 'inline completion requests')
    c.input('<Esc>')
  end)

  t.it('quits', function()
    c.stop()
  end)
end)
