-- Unit specs of latent.nvim's ghost-text logic: the pure functions of latent.ghost, and the
-- extmarks and buffer edits of latent.completion driven by a fake client object that answers
-- textDocument/inlineCompletion with a fixed item (no daemon involved; see e2e_spec.lua).
local t = require('spec')
local ghost = require('latent.ghost')

t.describe('ghost.suggestion', function()
  local function line_of(text)
    return function() return text end
  end

  t.it('shows the part of insertText after what is typed', function()
    local item = { insertText = 'return a + b', range = { start = { line = 0, character = 2 }, ['end'] = { line = 0, character = 5 } } }
    local s = ghost.suggestion(item, 0, 5, line_of('  ret'), 'utf-16')
    t.eq({ text = 'urn a + b', replace_len = 0 }, s)
  end)

  t.it('inserts at the cursor when the item has no range', function()
    t.eq({ text = 'x)', replace_len = 0 }, ghost.suggestion({ insertText = 'x)' }, 0, 4, line_of('f(a,'), 'utf-8'))
  end)

  t.it('remembers the text after the cursor that the range replaces', function()
    local item = { insertText = 'x)', range = { start = { line = 0, character = 2 }, ['end'] = { line = 0, character = 3 } } }
    t.eq({ text = 'x)', replace_len = 1 }, ghost.suggestion(item, 0, 2, line_of('f()'), 'utf-8'))
  end)

  t.it('rejects items that contradict the typed text', function()
    local item = { insertText = 'while', range = { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 2 } } }
    t.eq(nil, ghost.suggestion(item, 0, 2, line_of('fo'), 'utf-8'))
  end)

  t.it('converts UTF-16 columns to bytes', function()
    -- "é" is 2 bytes but 1 UTF-16 unit: character 2 is byte 3.
    local item = { insertText = 'éa = 1', range = { start = { line = 0, character = 0 }, ['end'] = { line = 0, character = 2 } } }
    t.eq({ text = ' = 1', replace_len = 0 }, ghost.suggestion(item, 0, 3, line_of('éa'), 'utf-16'))
  end)

  t.it('uses a snippet item by its default text', function()
    t.eq('foo(bar)', ghost.insert_text({ insertText = { kind = 'snippet', value = 'foo(${1:bar})$0' } }))
  end)
end)

t.describe('ghost.layout', function()
  t.it('is inline on 0.10+ and carries the rest of the line below a multi-line suggestion', function()
    t.eq({ virt_text_pos = 'inline', first = 'a,', lines = { '  b)' } }, ghost.layout('a,\n  b', ')', true))
  end)
  t.it('overlays at the end of a line on older Neovim', function()
    t.eq({ virt_text_pos = 'overlay', first = 'x = 1', lines = {} }, ghost.layout('x = 1', '', false))
  end)
  t.it('falls back to end-of-line text when overlay would hide characters', function()
    t.eq('eol', ghost.layout('x', ')', false).virt_text_pos)
  end)
end)

t.describe('partial accept', function()
  t.it('takes the next word with its leading blanks', function()
    t.eq(' hello', ghost.next_word(' hello world'))
    t.eq('(', ghost.next_word('(x)'))
    t.eq('\n    ', ghost.next_word('\n    return x'))
  end)
  t.it('takes the rest of the line, or the next line after a break', function()
    t.eq('a + b', ghost.next_line('a + b\nc'))
    t.eq('\n  c', ghost.next_line('\n  c\nd'))
    t.eq('tail', ghost.next_line('tail'))
  end)
  t.it('advances through typed text and gives up on other input', function()
    t.eq('lo', ghost.advance('hello', 'hel'))
    t.eq(nil, ghost.advance('hello', 'hex'))
    t.eq(nil, ghost.advance('hello', 'hello'))
  end)
end)

t.describe('completion with a fake client', function()
  local completion = require('latent.completion')
  local client_mod = require('latent.client')
  local requests = {}
  local answer
  local fake = {
    id = 999,
    name = 'latent',
    offset_encoding = 'utf-16',
    -- Called as client.request(...) before Neovim 0.11 and client:request(...) since.
    request = function(...)
      local args = { ... }
      if type(args[1]) == 'table' then
        table.remove(args, 1)
      end
      local method, params, handler = args[1], args[2], args[3]
      table.insert(requests, { method = method, params = params })
      vim.schedule(function() handler(nil, answer) end)
      return true, #requests
    end,
    cancel_request = function() end,
  }

  t.before_each(function()
    completion.dismiss()
    requests = {}
    client_mod.get = function() return fake end
    vim.cmd('enew!')
    -- Lets the cursor sit after the last character as it does in Insert mode; e2e_spec.lua
    -- covers real Insert mode.
    vim.o.virtualedit = 'onemore'
    vim.api.nvim_buf_set_lines(0, 0, -1, false, { 'def add(a, b):', '    ret' })
    vim.api.nvim_win_set_cursor(0, { 2, 7 })
    answer = { items = { { insertText = 'return a + b\n\nprint(add(1, 2))',
      range = { start = { line = 1, character = 4 }, ['end'] = { line = 1, character = 7 } } } } }
  end)

  local function marks()
    return vim.api.nvim_buf_get_extmarks(0, completion.ns, 0, -1, { details = true })
  end

  t.it('sends LSP 3.18 InlineCompletionParams', function()
    completion.request(true)
    t.eq('textDocument/inlineCompletion', requests[1].method)
    t.eq({ line = 1, character = 7 }, requests[1].params.position)
    t.eq(1, requests[1].params.context.triggerKind)
  end)

  t.it('renders the suggestion as extmarks', function()
    completion.request(false)
    t.wait_for(1000, function() return #marks() > 0 end, 'ghost text extmark')
    local m = marks()[1]
    t.eq(1, m[2], 'row')
    t.eq('urn a + b', m[4].virt_text[1][1])
    t.eq(completion.has_inline and 'inline' or 'overlay', m[4].virt_text_pos)
    t.eq({ { { '', 'LatentGhostText' } }, { { 'print(add(1, 2))', 'LatentGhostText' } } }, m[4].virt_lines)
  end)

  t.it('accepts word by word, then the line, then the rest', function()
    completion.request(false)
    t.wait_for(1000, function() return completion.visible() end, 'suggestion')
    t.truthy(completion.accept('word'))
    t.eq('    return', vim.api.nvim_get_current_line())
    t.eq(' a + b\n\nprint(add(1, 2))', completion.visible().text)
    t.truthy(completion.accept('line'))
    t.eq('    return a + b', vim.api.nvim_get_current_line())
    t.truthy(completion.accept('all'))
    t.eq({ 'def add(a, b):', '    return a + b', '', 'print(add(1, 2))' }, vim.api.nvim_buf_get_lines(0, 0, -1, false))
    t.eq({ 4, 16 }, vim.api.nvim_win_get_cursor(0))
    t.eq(nil, completion.visible())
    t.eq(0, #marks())
  end)

  t.it('drops an answer that arrives after the cursor moved', function()
    completion.request(false)
    vim.api.nvim_win_set_cursor(0, { 1, 0 })
    vim.wait(100)
    t.eq(nil, completion.visible())
  end)

  t.it('dismiss removes the ghost text and accept then reports nothing to accept', function()
    completion.request(false)
    t.wait_for(1000, function() return completion.visible() end, 'suggestion')
    completion.dismiss()
    t.eq(0, #marks())
    t.eq(false, completion.accept('all'))
  end)
end)
