-- Ghost text from the real latentd with a model (env LATENTD, LATENT_TEST_MODEL), in a second
-- Neovim driven by keystrokes: typing in Insert mode brings a suggestion as an extmark, <M-Right>
-- accepts its next word and <Tab> accepts the rest into the buffer. :LatentAsk then `f` asks a
-- follow-up in the same conversation, appended to the answer window.
local t = require('spec')
local child = require('child')

local latentd = assert(vim.env.LATENTD, 'set LATENTD to the latentd binary (ctest does this)')
local model = assert(vim.env.LATENT_TEST_MODEL, 'set LATENT_TEST_MODEL to a GGUF model (ctest makes one)')

t.describe('latent.nvim completions from latentd', function()
  local root = child.workspace()
  local c = child.start(root)
  c.lua([[
    local latentd, model = ...
    require('latent').setup({ cmd = { latentd, '--stdio' }, server = { model = model, debounceMs = 10, askMaxTokens = 32 } })
    vim.cmd('edit math.c')
  ]], latentd, model)

  local function shown()
    return c.lua([[
      local v = require('latent.completion').visible()
      if not v then return false end
      local ns = require('latent.completion').ns
      local marks = vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })
      return { text = v.text, marks = #marks, virt = marks[1] and marks[1][4].virt_text[1][1] }
    ]])
  end

  t.it('loads the model', function()
    t.wait_for(60000, function()
      return c.lua([[
        local cl = require('latent.client').get(0)
        if not (cl and cl.initialized) then return false end
        local r = require('latent.client').request_sync(cl, 'latent/status', vim.empty_dict(), 2000, 0)
        return r and r.result and r.result.model.loaded == true
      ]])
    end, 'latent/status model.loaded')
  end)

  t.it('shows ghost text while typing and accepts it word by word and whole', function()
    c.input('Goint sub(int a, int b) {<CR>return a')
    local g = t.wait_for(60000, shown, 'ghost text after typing')
    io.stdout:write('ghost text: ' .. vim.inspect(g.text) .. '\n')
    t.truthy(#g.text > 0 and g.marks == 1, 'one extmark with text: ' .. vim.inspect(g))
    t.eq(vim.split(g.text, '\n', { plain = true })[1], g.virt, 'extmark shows the suggestion')
    local before = table.concat(c.lines(), '\n')
    local row, col = unpack(c.lua([[return vim.api.nvim_win_get_cursor(0)]]))
    local lines = vim.split(before, '\n', { plain = true })
    -- The buffer with `text` inserted at the cursor.
    local function with(text)
      local l = lines[row]
      local copy = vim.deepcopy(lines)
      copy[row] = l:sub(1, col) .. text .. l:sub(col + 1)
      return table.concat(copy, '\n')
    end
    local word = c.lua([[return require('latent.ghost').next_word(...)]], g.text)
    if #word < #g.text then
      c.input('<M-Right>')
      t.wait_for(5000, function() return table.concat(c.lines(), '\n') == with(word) end,
        'next word "' .. word .. '" inserted')
      local rest = t.truthy(shown(), 'the rest of the suggestion stays visible after a word')
      t.eq(g.text:sub(#word + 1), rest.text, 'remaining suggestion')
    end
    c.input('<Tab>')
    t.wait_for(5000, function() return table.concat(c.lines(), '\n') == with(g.text) end,
      'whole suggestion "' .. g.text .. '" inserted')
    c.input('<Esc>')
  end)

  t.it('<C-]> dismisses a suggestion without touching the buffer', function()
    c.input('<Esc>Go// sum of a and b: ')
    t.wait_for(60000, shown, 'ghost text after typing')
    local before = c.lines()
    c.input('<C-]>')
    t.wait_for(5000, function() return not shown() end, 'suggestion dismissed')
    t.eq(before, c.lines())
    c.input('<Esc>')
  end)

  t.it(':LatentAsk answers, and `f` asks a follow-up in the same conversation', function()
    c.input('<Esc>')
    c.cmd('LatentAsk Which functions does math.c define? ' .. string.rep('Name each with its parameters. ', 20))
    t.wait_for(60000, function() return c.lua([[return require('latent.ask').last ~= nil]]) end, 'first answer')
    local first = c.lua([[return require('latent.ask').last.id]])
    local cached = function()
      return c.lua([[
        local cl = require('latent.client').get(0) or select(2, next(require('latent.client').all()))
        local r = require('latent.client').request_sync(cl, 'latent/status', vim.empty_dict(), 2000, 0)
        return r.result.cache.cachedPromptTokens
      ]])
    end
    local before = cached()
    c.lua([[vim.ui.input = function(_, on_confirm) on_confirm('And which of them multiplies?') end]])
    c.input('f')
    local text = t.wait_for(60000, function()
      local l = table.concat(c.lines(), '\n')
      local _, questions = l:gsub('\n# ', '')
      return (l:find('^# Which functions') and questions >= 1 and l:find('f: ask a follow%-up', (l:find('# And which')))) and l
    end, 'the follow-up answered below the first answer')
    t.truthy(text:find('# And which of them multiplies?', 1, true), text)
    t.eq(first, c.lua([[return require('latent.ask').last.id]]))
    t.truthy(cached() - before >= 64, 'the follow-up reused the cached first turn')
    c.cmd('close')
  end)

  t.it('quits', function()
    c.stop()
  end)
end)
