-- :LatentAsk — a repository question (latent/ask). The answer streams into a floating window
-- through $/progress on our partialResultToken; its cited sources become the quickfix list.
-- `f` in that window (or :LatentAsk! QUESTION) asks a follow-up in the same conversation: latentd
-- puts the earlier turns first in the prompt and reuses their cached latents.
local config = require('latent.config')
local client_mod = require('latent.client')

local M = {}

local next_token = 0
-- partialResultToken -> { buf, win, text, above }
local streams = {}
-- The last answered conversation: { id, client, buf, win, lines } (lines: the transcript so far).
M.last = nil

function M.owns(token)
  return streams[token] ~= nil
end

local function set_text(st, text, extra)
  if not vim.api.nvim_buf_is_valid(st.buf) then
    return
  end
  local lines = vim.list_extend(vim.deepcopy(st.above), vim.split(text, '\n', { plain = true }))
  vim.list_extend(lines, extra or {})
  vim.bo[st.buf].modifiable = true
  vim.api.nvim_buf_set_lines(st.buf, 0, -1, false, lines)
  vim.bo[st.buf].modifiable = false
  if vim.api.nvim_win_is_valid(st.win) then
    vim.api.nvim_win_set_cursor(st.win, { #lines, 0 })
  end
  return lines
end

-- A partial result: a chunk of answer text. latentd sends { text = chunk }; a bare string or
-- { answer = full-so-far } are accepted too so that either streaming style renders.
function M.on_partial(token, value)
  local st = streams[token]
  if not st then
    return
  end
  if type(value) == 'string' then
    st.text = st.text .. value
  elseif type(value) == 'table' then
    if type(value.answer) == 'string' then
      st.text = value.answer
    elseif type(value.text) == 'string' then
      st.text = st.text .. value.text
    elseif type(value.delta) == 'string' then
      st.text = st.text .. value.delta
    end
  end
  set_text(st, st.text)
end

local function open_float()
  local buf = vim.api.nvim_create_buf(false, true)
  vim.bo[buf].filetype = 'markdown'
  vim.bo[buf].bufhidden = 'wipe'
  local o = config.options.ask
  local width = math.max(40, math.floor(vim.o.columns * o.width))
  local height = math.max(8, math.floor(vim.o.lines * o.height))
  local win = vim.api.nvim_open_win(buf, true, {
    relative = 'editor',
    width = width,
    height = height,
    row = math.floor((vim.o.lines - height) / 2),
    col = math.floor((vim.o.columns - width) / 2),
    style = 'minimal',
    border = 'rounded',
  })
  vim.wo[win].wrap = true
  vim.wo[win].linebreak = true
  vim.bo[buf].modifiable = false
  vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true })
  vim.keymap.set('n', 'f', function() M.follow_up() end, { buffer = buf, nowait = true, desc = 'latent: follow-up question' })
  return buf, win
end

-- Converts the answer's sources to quickfix items. latentd sends AskSource
-- { location = { uri, range }, path, line, symbol? } (lsp/protocol.h); a bare Location
-- { uri, range } is accepted as well.
function M.quickfix_items(sources)
  local items = {}
  for _, s in ipairs(sources or {}) do
    local loc = type(s.location) == 'table' and s.location or s
    if type(loc.uri) == 'string' then
      local start = loc.range and loc.range.start or { line = (s.line or 1) - 1, character = 0 }
      local stop = loc.range and loc.range['end'] or start
      local symbol = type(s.symbol) == 'string' and s.symbol or nil
      table.insert(items, {
        filename = vim.uri_to_fname(loc.uri),
        lnum = start.line + 1,
        col = start.character + 1,
        end_lnum = stop.line + 1,
        text = symbol or (type(s.path) == 'string' and s.path) or 'source',
      })
    end
  end
  return items
end

-- Asks `question` about the repository of the current buffer (or of the working directory).
-- `follow_up`: continue the last conversation (in its window when it is still open).
function M.ask(question, follow_up)
  if not question or vim.trim(question) == '' then
    vim.ui.input({ prompt = follow_up and 'Follow up: ' or 'Ask Latent: ' }, function(input)
      if input and vim.trim(input) ~= '' then
        M.ask(input, follow_up)
      end
    end)
    return
  end
  local last = follow_up and M.last or nil
  if follow_up and not last then
    vim.notify('latent: no answer to follow up yet; ask with :LatentAsk first', vim.log.levels.WARN)
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_mod.get(bufnr)
  local params = { question = question }
  if last then
    client = last.client
    params.conversation = last.id
  elseif client then
    local pos = vim.api.nvim_win_get_cursor(0)
    local line = vim.api.nvim_get_current_line()
    params.textDocument = { uri = vim.uri_from_bufnr(bufnr) }
    params.position = {
      line = pos[1] - 1,
      character = require('latent.ghost').from_byte_col(line, pos[2], client_mod.encoding(client)),
    }
  else
    local id, msg = client_mod.ensure(client_mod.find_root(vim.fn.getcwd() .. '/.'))
    if not id then
      vim.notify(msg, vim.log.levels.ERROR)
      return
    end
    client = vim.lsp.get_client_by_id(id)
  end
  next_token = next_token + 1
  local token = 'latent-ask-' .. next_token
  params.partialResultToken = token
  local buf, win, above
  if last and vim.api.nvim_buf_is_valid(last.buf) and vim.api.nvim_win_is_valid(last.win) then
    buf, win = last.buf, last.win
    vim.api.nvim_set_current_win(win)
    above = vim.list_extend(vim.deepcopy(last.lines), { '' })
  else
    buf, win = open_float()
    above = last and vim.list_extend(vim.deepcopy(last.lines), { '' }) or {}
  end
  vim.list_extend(above, { '# ' .. question, '' })
  local st = { buf = buf, win = win, text = '', above = above }
  streams[token] = st
  set_text(st, '_thinking…_')
  client_mod.request(client, 'latent/ask', params, function(err, result)
    streams[token] = nil
    if err then
      set_text(st, '**latentd could not answer:** ' .. (err.message or vim.inspect(err)))
      return
    end
    result = result or {}
    local answer = type(result.answer) == 'string' and result.answer or st.text
    local items = M.quickfix_items(result.sources)
    local extra = {}
    if #items > 0 then
      table.insert(extra, '')
      table.insert(extra, '## Sources')
      for _, it in ipairs(items) do
        table.insert(extra, string.format('- %s:%d', vim.fn.fnamemodify(it.filename, ':.'), it.lnum))
      end
      vim.fn.setqflist({}, ' ', { title = 'Latent: ' .. question, items = items })
    end
    local lines = set_text(st, answer, extra)
    if type(result.conversation) == 'string' and result.conversation ~= '' and lines then
      M.last = { id = result.conversation, client = client, buf = buf, win = win, lines = lines }
      st.above = {}
      set_text(st, table.concat(lines, '\n'), { '', '_f: ask a follow-up · q: close_' })
    end
    if #items > 0 and config.options.ask.open_quickfix then
      local cur = vim.api.nvim_get_current_win()
      vim.cmd('botright copen')
      if vim.api.nvim_win_is_valid(cur) then
        vim.api.nvim_set_current_win(cur)
      end
    end
  end, (not last and client_mod.get(bufnr)) and bufnr or nil)
end

-- A follow-up question in the last conversation (prompts for it).
function M.follow_up(question)
  M.ask(question, true)
end

return M
