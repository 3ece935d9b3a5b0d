-- latent.nvim against the real latentd (env LATENTD), in a second Neovim driven like a user:
-- the plugin starts and attaches the daemon, :checkhealth latent reports it, the index gets
-- ready, :LatentStatus shows it, :LatentAsk streams an answer into a float and fills the
-- quickfix list with the cited sources. Completions are in completion_spec.lua (they need a model).
local t = require('spec')
local child = require('child')

local latentd = assert(vim.env.LATENTD, 'set LATENTD to the latentd binary (ctest does this)')

t.describe('latent.nvim with latentd', function()
  local root = child.workspace()
  local c = child.start(root)

  c.lua([[
    require('latent').setup({ cmd = { ..., '--stdio' }, server = { debounceMs = 10 } })
    -- Every statusline text while progress is reported, as a user's statusline would show it.
    _G.statuslines = {}
    vim.api.nvim_create_autocmd('User', { pattern = 'LatentProgress', callback = function()
      table.insert(_G.statuslines, require('latent').statusline())
    end })
    vim.cmd('edit main.c')
  ]], latentd)

  local function client_ready()
    return c.lua([[
      local cl = require('latent.client').get(0)
      return cl ~= nil and cl.initialized == true
    ]])
  end

  t.it('starts latentd and attaches the buffer', function()
    t.wait_for(15000, client_ready, 'latent client initialized')
    local caps = c.lua([[return require('latent.client').get(0).server_capabilities]])
    t.truthy(caps.inlineCompletionProvider, 'server announces inlineCompletionProvider')
  end)

  t.it('gets the workspace indexed (latent/status)', function()
    t.wait_for(60000, function()
      return c.lua([[
        local cl = require('latent.client').get(0)
        local r = require('latent.client').request_sync(cl, 'latent/status', vim.empty_dict(), 2000, 0)
        local ws = r and r.result and r.result.workspaces or {}
        return #ws > 0 and ws[1].state == 'ready'
      ]])
    end, 'workspace state ready')
  end)

  t.it('the statusline shows the indexing progress', function()
    local seen = c.lua([[return _G.statuslines]])
    local joined = table.concat(seen, ' | ')
    t.truthy(joined:find('latent: indexing', 1, true), 'statusline texts: ' .. joined)
  end)

  t.it(':LatentReindex rebuilds the index and the statusline is idle afterwards', function()
    c.cmd('LatentReindex')
    t.wait_for(10000, function()
      return c.lua([[return vim.fn.execute('messages'):find('latent: reindexing', 1, true) ~= nil]])
    end, 'latent/reindex answered')
    t.wait_for(60000, function()
      return c.lua([[
        local cl = require('latent.client').get(0)
        local r = require('latent.client').request_sync(cl, 'latent/status', vim.empty_dict(), 2000, 0)
        local ws = r and r.result and r.result.workspaces or {}
        return #ws > 0 and ws[1].state == 'ready'
      ]])
    end, 'workspace ready after reindex')
    t.wait_for(10000, function() return c.lua([[return require('latent').statusline()]]) == 'latent' end, 'idle statusline')
  end)

  t.it(':LatentStatus shows the daemon status', function()
    c.cmd('LatentStatus')
    local text = t.wait_for(5000, function()
      local l = table.concat(c.lines(), '\n')
      return l:find('workspace    ', 1, true) and l
    end, 'status buffer')
    t.truthy(text:find(': ready, 2 files in the index', 1, true), 'index state in:\n' .. text)
    t.truthy(text:find('last run: 2 files checked', 1, true), 'last run in:\n' .. text)
    t.truthy(text:find('model        not loaded: no model configured', 1, true), 'model in:\n' .. text)
    t.truthy(not text:find('{"', 1, true), 'no raw JSON in:\n' .. text)
    c.cmd('close')
  end)

  t.it(':checkhealth latent finds the daemon and reports the index', function()
    c.cmd('checkhealth latent')
    local text = t.wait_for(10000, function()
      local l = table.concat(c.lines(), '\n')
      return l:find('index:', 1, true) and l
    end, 'health report')
    t.truthy(text:find('OK:? .*latentd'), 'latentd OK line in:\n' .. text)
    t.truthy(text:find('ready %(%d+ files%)'), 'index ready line in:\n' .. text)
    c.cmd('tabclose')
  end)

  t.it(':LatentAsk streams an answer and lists its sources in quickfix', function()
    c.cmd('edit main.c')
    c.cmd('LatentAsk Where is add defined?')
    local text = t.wait_for(60000, function()
      local l = table.concat(c.lines(), '\n')
      return l:find('## Sources', 1, true) and l
    end, 'answer with sources in the float')
    t.truthy(text:find('math.c:%d+'), 'math.c cited in:\n' .. text)
    local qf = c.lua([[
      return vim.tbl_map(function(i) return vim.fn.bufname(i.bufnr) .. ':' .. i.lnum end, vim.fn.getqflist())
    ]])
    t.truthy(#qf > 0, 'quickfix items')
    t.truthy(table.concat(qf, ' '):find('math.c:%d'), 'math.c in quickfix: ' .. table.concat(qf, ' '))
  end)

  t.it('stops latentd when Neovim quits', function()
    local pid = c.lua([[local _, cl = next(require('latent.client').all()); return cl.rpc.pid]])
    t.truthy(type(pid) == 'number', 'daemon pid')
    c.stop()
    t.wait_for(10000, function()
      local stat = io.open('/proc/' .. pid .. '/stat')
      if not stat then
        return true
      end
      local state = stat:read('*a'):match('^%d+ %b() (%a)')
      stat:close()
      return state == 'Z' -- exited, waiting for a parent that is gone to be reaped
    end, 'latentd process ' .. pid .. ' to exit')
  end)
end)
