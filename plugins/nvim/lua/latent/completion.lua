-- Inline completions: asks latentd (textDocument/inlineCompletion, LSP 3.18) while the user
-- types, shows the answer as ghost text with extmarks, and accepts all of it, a word or a line.
-- Each request carries a partialResultToken (latentd's extension): the first line of a
-- multi-line completion arrives as $/progress and is shown while the rest is generated.
local config = require('latent.config')
local client_mod = require('latent.client')
local ghost = require('latent.ghost')

local M = {}

M.ns = vim.api.nvim_create_namespace('latent_ghost')
-- virt_text_pos = 'inline' arrived in Neovim 0.10.
M.has_inline = vim.fn.has('nvim-0.10') == 1

-- LSP 3.18 InlineCompletionTriggerKind.
local TRIGGER_INVOKED, TRIGGER_AUTOMATIC = 1, 2

-- The suggestion on screen: { bufnr, row, col, text, replace_len, changedtick }.
local current = nil
-- partialResultToken -> the request it belongs to: { bufnr, row, col, tick, client }.
local partials = {}
local next_token = 0
-- The request in flight: { client, id, bufnr, token }.
local pending = nil

local function clear_marks()
  if current and vim.api.nvim_buf_is_valid(current.bufnr) then
    vim.api.nvim_buf_clear_namespace(current.bufnr, M.ns, 0, -1)
  end
end

local function cancel_pending()
  if pending then
    client_mod.cancel_request(pending.client, pending.id)
    partials[pending.token] = nil
    pending = nil
  end
end

local function render()
  clear_marks()
  local s = current
  if not s then
    return
  end
  local line = vim.api.nvim_buf_get_lines(s.bufnr, s.row, s.row + 1, false)[1] or ''
  local layout = ghost.layout(s.text, line:sub(s.col + 1), M.has_inline)
  local hl = config.options.hl_group
  local opts = { virt_text = { { layout.first, hl } }, virt_text_pos = layout.virt_text_pos, hl_mode = 'combine' }
  if #layout.lines > 0 then
    opts.virt_lines = vim.tbl_map(function(l)
      return { { l, hl } }
    end, layout.lines)
  end
  local col = layout.virt_text_pos == 'eol' and #line or s.col
  if layout.virt_text_pos == 'eol' then
    opts.virt_text_pos = nil -- the default is end of line; 0.7 rejects 'eol' with a column
  end
  s.mark = vim.api.nvim_buf_set_extmark(s.bufnr, M.ns, s.row, col, opts)
end

-- Removes the suggestion and cancels any request in flight.
function M.dismiss()
  cancel_pending()
  clear_marks()
  current = nil
end

-- The visible suggestion (for tests and status lines): { bufnr, row, col, text } or nil.
function M.visible()
  if current and vim.api.nvim_buf_is_valid(current.bufnr) then
    return { bufnr = current.bufnr, row = current.row, col = current.col, text = current.text }
  end
  return nil
end

local function cursor()
  local pos = vim.api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

local function on_result(bufnr, row, col, tick, client, err, result)
  if err then
    -- RequestCancelled and ContentModified mean a newer request is on its way.
    if err.code ~= -32800 and err.code ~= -32801 then
      vim.notify('latent: completion failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.WARN)
    end
    return
  end
  if vim.api.nvim_get_current_buf() ~= bufnr or vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then
    return -- the buffer moved on; the answer is stale
  end
  local r, c = cursor()
  if r ~= row or c ~= col then
    return
  end
  local items = result and (result.items or result) or {}
  local encoding = client_mod.encoding(client)
  local get_line = function(n)
    return vim.api.nvim_buf_get_lines(bufnr, n, n + 1, false)[1] or ''
  end
  for _, item in ipairs(items) do
    local s = ghost.suggestion(item, row, col, get_line, encoding)
    if s then
      current = { bufnr = bufnr, row = row, col = col, text = s.text, replace_len = s.replace_len, tick = tick }
      render()
      return
    end
  end
end

-- Whether a $/progress token is one of our completion requests' partialResultTokens.
function M.owns(token)
  return partials[token] ~= nil
end

-- A partial result: the first line of the completion, shown like a whole one until the
-- response replaces it.
function M.on_partial(token, value)
  local p = partials[token]
  if p then
    on_result(p.bufnr, p.row, p.col, p.tick, p.client, nil, value)
  end
end

-- Sends textDocument/inlineCompletion for the cursor now. `invoked`: the user asked explicitly.
function M.request(invoked)
  local bufnr = vim.api.nvim_get_current_buf()
  local client = client_mod.get(bufnr)
  if not client then
    if invoked then
      vim.notify('latent: no latentd attached to this buffer (see :checkhealth latent)', vim.log.levels.WARN)
    end
    return
  end
  cancel_pending()
  local row, col = cursor()
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = ghost.from_byte_col(line, col, client_mod.encoding(client)) },
    context = { triggerKind = invoked and TRIGGER_INVOKED or TRIGGER_AUTOMATIC },
  }
  local tick = vim.api.nvim_buf_get_changedtick(bufnr)
  next_token = next_token + 1
  local token = 'latent-completion-' .. next_token
  params.partialResultToken = token
  partials[token] = { bufnr = bufnr, row = row, col = col, tick = tick, client = client }
  local ok, id
  ok, id = client_mod.request(client, 'textDocument/inlineCompletion', params, function(err, result)
    partials[token] = nil
    if pending and pending.id == id then
      pending = nil
    end
    on_result(bufnr, row, col, tick, client, err, result)
  end, bufnr)
  if not ok then
    partials[token] = nil
  end
  if ok then
    pending = { client = client, id = id, bufnr = bufnr, token = token }
  end
end

-- TextChangedI: if the user typed what the suggestion shows, shrink it instead of asking again.
function M.on_text_changed()
  local bufnr = vim.api.nvim_get_current_buf()
  if current and current.bufnr == bufnr and current.tick == vim.api.nvim_buf_get_changedtick(bufnr) then
    return -- our own edit (a partial accept), already accounted for
  end
  local row, col = cursor()
  if current and current.bufnr == bufnr and current.row == row and col > current.col then
    local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ''
    local rest = ghost.advance(current.text, line:sub(current.col + 1, col))
    if rest then
      current.text, current.col = rest, col
      current.tick = vim.api.nvim_buf_get_changedtick(bufnr)
      render()
      return
    end
  end
  M.dismiss()
  if config.options.auto_trigger and vim.fn.mode():sub(1, 1) == 'i' then
    -- At once: latentd debounces (server.debounceMs) and a newer request replaces this one.
    M.request(false)
  end
end

-- CursorMovedI without an edit (arrows, mouse): the suggestion no longer applies. After an edit
-- (it fires before TextChangedI) on_text_changed decides: typing the suggestion keeps it.
function M.on_cursor_moved()
  if not current or vim.api.nvim_buf_get_changedtick(current.bufnr) ~= current.tick then
    return
  end
  local row, col = cursor()
  if current.bufnr ~= vim.api.nvim_get_current_buf() or row ~= current.row or col ~= current.col then
    M.dismiss()
  end
end

-- Inserts `piece` (a prefix of the suggestion) at the cursor and keeps the rest visible.
local function insert_piece(piece, replace_len)
  local s = current
  local lines = ghost.split_lines(piece)
  local line = vim.api.nvim_buf_get_lines(s.bufnr, s.row, s.row + 1, false)[1] or ''
  local end_col = math.min(s.col + replace_len, #line)
  vim.api.nvim_buf_set_text(s.bufnr, s.row, s.col, s.row, end_col, lines)
  local new_row = s.row + #lines - 1
  local new_col = (#lines == 1 and s.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { new_row + 1, new_col })
  return new_row, new_col
end

-- Accepts `kind` = 'all' | 'word' | 'line' of the suggestion. Returns false if none is shown,
-- so that mappings can fall back to the key's normal meaning.
function M.accept(kind)
  if not current or current.bufnr ~= vim.api.nvim_get_current_buf() then
    return false
  end
  cancel_pending()
  local s = current
  local piece
  if kind == 'word' then
    piece = ghost.next_word(s.text)
  elseif kind == 'line' then
    piece = ghost.next_line(s.text)
  else
    piece = s.text
  end
  local rest = s.text:sub(#piece + 1)
  clear_marks()
  -- Only the final piece replaces the range's text after the cursor (e.g. an auto-closed
  -- bracket the completion also contains); partial accepts only insert.
  local row, col = insert_piece(piece, rest == '' and s.replace_len or 0)
  if rest == '' then
    current = nil
  else
    current = { bufnr = s.bufnr, row = row, col = col, text = rest, replace_len = s.replace_len,
                tick = vim.api.nvim_buf_get_changedtick(s.bufnr) }
    render()
  end
  return true
end

return M
