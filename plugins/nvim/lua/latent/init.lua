-- latent.nvim: inline completions and repository questions from latentd.
--   require('latent').setup({ ... })   -- see :help latent-options
local M = {}

local function map_with_fallback(lhs, action)
  vim.keymap.set('i', lhs, function()
    if not action() then
      -- No suggestion on screen: the key keeps its normal meaning.
      vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(lhs, true, false, true), 'n', false)
    end
  end, { desc = 'latent: accept or fall back to ' .. lhs })
end

local function define_mappings(keymaps)
  local completion = require('latent.completion')
  local actions = {
    accept = function() return completion.accept('all') end,
    accept_word = function() return completion.accept('word') end,
    accept_line = function() return completion.accept('line') end,
    dismiss = function()
      local shown = completion.visible() ~= nil
      completion.dismiss()
      return shown
    end,
    complete = function()
      completion.request(true)
      return true
    end,
  }
  local plug = {
    accept = '<Plug>(latent-accept)',
    accept_word = '<Plug>(latent-accept-word)',
    accept_line = '<Plug>(latent-accept-line)',
    dismiss = '<Plug>(latent-dismiss)',
    complete = '<Plug>(latent-complete)',
  }
  for name, lhs in pairs(plug) do
    vim.keymap.set('i', lhs, function() actions[name]() end, { desc = 'latent: ' .. name })
    if keymaps[name] then
      map_with_fallback(keymaps[name], actions[name])
    end
  end
end

function M.setup(opts)
  local config = require('latent.config')
  local o = config.apply(opts)
  vim.api.nvim_set_hl(0, 'LatentGhostText', { link = 'Comment', default = true })

  local client = require('latent.client')
  local completion = require('latent.completion')
  local group = vim.api.nvim_create_augroup('latent', { clear = true })
  vim.api.nvim_create_autocmd({ 'BufEnter', 'FileType' }, {
    group = group,
    callback = function(a) client.attach(a.buf) end,
  })
  vim.api.nvim_create_autocmd('TextChangedI', { group = group, callback = completion.on_text_changed })
  vim.api.nvim_create_autocmd('CursorMovedI', { group = group, callback = completion.on_cursor_moved })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'BufLeave' }, { group = group, callback = completion.dismiss })

  define_mappings(o.keymaps or {})
  client.push_settings()
  local cur = vim.api.nvim_get_current_buf()
  if vim.api.nvim_buf_get_name(cur) ~= '' then
    client.attach(cur)
  end
  M.did_setup = true
end

-- Public API, also used by the commands in plugin/latent.lua.
-- follow_up: continue the last answer's conversation.
function M.ask(question, follow_up) require('latent.ask').ask(question, follow_up) end
function M.status() require('latent.status').show() end
function M.statusline() return require('latent.status').statusline() end
function M.restart() require('latent.client').restart() end
function M.reindex()
  local clients = require('latent.client').all()
  for root, c in pairs(clients) do
    require('latent.client').request(c, 'latent/reindex', vim.empty_dict(), function(err)
      if err then
        vim.notify('latent: reindex of ' .. root .. ' failed: ' .. (err.message or ''), vim.log.levels.ERROR)
      else
        vim.notify('latent: reindexing ' .. root)
      end
    end)
  end
end

return M
