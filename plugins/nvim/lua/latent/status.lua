-- :LatentStatus (latent/status) and a status-line component with indexing progress.
local client_mod = require('latent.client')

local M = {}

local function scalar(v)
  if type(v) == 'number' and v ~= math.floor(v) then
    return string.format('%.3g', v)
  end
  return tostring(v)
end

-- Renders a decoded JSON value as indented "key: value" lines, keys sorted, so that any field
-- latentd adds shows up without a plugin update.
function M.format(value, indent, out)
  indent = indent or ''
  out = out or {}
  if type(value) ~= 'table' then
    table.insert(out, indent .. scalar(value))
    return out
  end
  if (vim.islist or vim.tbl_islist)(value) then
    for _, v in ipairs(value) do
      if type(v) == 'table' then
        table.insert(out, indent .. '-')
        M.format(v, indent .. '  ', out)
      else
        table.insert(out, indent .. '- ' .. scalar(v))
      end
    end
    return out
  end
  local keys = vim.tbl_keys(value)
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = value[k]
    if type(v) == 'table' and next(v) ~= nil then
      table.insert(out, indent .. k .. ':')
      M.format(v, indent .. '  ', out)
    elseif type(v) ~= 'table' and v ~= vim.NIL then
      table.insert(out, indent .. k .. ': ' .. scalar(v))
    end
  end
  return out
end

-- Requests latent/status from every running daemon and shows the answers in a scratch split.
function M.show()
  local clients = client_mod.all()
  if next(clients) == nil then
    vim.notify('latent: no latentd running; open a file in a project (see :checkhealth latent)', vim.log.levels.WARN)
    return
  end
  for root, c in pairs(clients) do
    client_mod.request(c, 'latent/status', vim.empty_dict(), function(err, result)
      local lines = { 'latentd for ' .. root, '' }
      if err then
        table.insert(lines, 'error: ' .. (err.message or vim.inspect(err)))
      else
        vim.list_extend(lines, M.format(result or {}))
      end
      vim.cmd('botright new')
      local buf = vim.api.nvim_get_current_buf()
      vim.bo[buf].buftype = 'nofile'
      vim.bo[buf].bufhidden = 'wipe'
      vim.bo[buf].filetype = 'yaml'
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
      vim.bo[buf].modifiable = false
      vim.api.nvim_win_set_height(0, math.min(#lines, 20))
      vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true })
    end)
  end
end

-- A short string for 'statusline': "latent" when idle, "latent: Indexing 40%" while busy.
function M.statusline()
  local c = client_mod.get(0)
  if not c then
    return ''
  end
  for _, p in pairs(client_mod.progress[c.id] or {}) do
    local s = 'latent: ' .. (p.title or 'working')
    if p.percentage then
      s = s .. string.format(' %d%%', p.percentage)
    elseif p.message then
      s = s .. ' ' .. p.message
    end
    return s
  end
  return 'latent'
end

return M
