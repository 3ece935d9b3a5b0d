-- :LatentStatus (latent/status) and a status-line component with indexing progress.
local client_mod = require('latent.client')

local M = {}

local function n(v)
  return type(v) == 'number' and v or 0
end

-- latent/status (the StatusResult of lsp/protocol.h) as lines for people, as `latent status`
-- and VS Code's "Latent: Show status" render it.
function M.format(s)
  local out = {}
  local function add(fmt, ...)
    table.insert(out, string.format(fmt, ...))
  end
  local m = s.model or {}
  if m.loaded then
    add('model        %s (%s): backend %s, context %d tokens, fill-in-the-middle %s, chat format %s', m.name, m.path,
      m.backend, n(m.contextLength), m.fim and 'yes' or 'no (no completions)', tostring(m.chatFormat))
    for _, w in ipairs(m.warnings or {}) do
      add('warning      %s', tostring(w))
    end
  else
    add('model        not loaded: %s', tostring(m.problem))
  end
  if #(s.workspaces or {}) == 0 then
    add('workspace    none open')
  end
  for _, w in ipairs(s.workspaces or {}) do
    local line = string.format('workspace    %s: %s, %d files in the index', w.root, w.state, n(w.files))
    if type(w.progress) == 'table' then
      line = line .. string.format('; checking %d/%d files', n(w.progress.filesDone), n(w.progress.filesFound))
    end
    table.insert(out, line)
    local r = w.lastRun
    if type(r) == 'table' then
      add('             last run%s: %d files checked, %d updated, %d removed, %d skipped by rule, %d problems, %.1f s',
        r.cancelled and ' (cancelled)' or '', n(r.filesChecked), n(r.filesIndexed), n(r.filesRemoved),
        n(r.filesSkipped), n(r.problems), n(r.seconds))
    end
    if type(w.error) == 'string' and w.error ~= '' then
      add('             error: %s', w.error)
    end
  end
  local c = s.completions or {}
  add('completions  %d requests: %d ran the model, %d reused the shown completion, %d superseded, %d cancelled, %d empty',
    n(c.requests), n(c.engineRuns), n(c.reused), n(c.superseded), n(c.cancelled), n(c.empty))
  local k = s.cache or {}
  add('cache        %d of %d prompt tokens from the latent KV cache (%.0f%%), %d tokens generated',
    n(k.cachedPromptTokens), n(k.promptTokens), 100 * n(k.hitRate), n(k.generatedTokens))
  local q = s.queue or {}
  add('queue        %d completions, %d questions, %d worker jobs; the engine runs %d and holds %d',
    n(q.pendingCompletions), n(q.pendingQuestions), n(q.workerJobs), n(q.engineLive), n(q.engineQueued))
  add('questions    %d conversations kept for follow-ups', n(s.conversations))
  local keys = vim.tbl_keys(s.settings or {})
  table.sort(keys)
  local settings = vim.tbl_map(function(key)
    local v = s.settings[key]
    return key .. '=' .. (type(v) == 'table' and table.concat(v, ',') or tostring(v))
  end, keys)
  add('settings     %s', table.concat(settings, ' '))
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
      local lines = { string.format('latentd %s (pid %s) for %s', tostring(result and result.version),
        tostring(result and result.pid), root), '' }
      if err then
        table.insert(lines, 'error: ' .. (err.message or vim.inspect(err)))
      else
        vim.list_extend(lines, M.format(result or {}))
      end
      vim.cmd('botright new')
      local buf = vim.api.nvim_get_current_buf()
      vim.bo[buf].buftype = 'nofile'
      vim.bo[buf].bufhidden = 'wipe'
      vim.bo[buf].filetype = 'latentstatus'
      vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
      vim.bo[buf].modifiable = false
      vim.api.nvim_win_set_height(0, math.min(#lines, 20))
      vim.keymap.set('n', 'q', '<cmd>close<cr>', { buffer = buf, nowait = true })
    end)
  end
end

-- A short string for 'statusline': "latent" when idle, "latent: indexing 120/300 files" or
-- "latent: indexing 40%" while latentd reports progress ($/progress of its indexing).
function M.statusline()
  local c = client_mod.get(0)
  if not c then
    return ''
  end
  for _, p in pairs(client_mod.progress[c.id] or {}) do
    local s = 'latent: ' .. (p.title or 'working'):gsub('^Latent: ', '')
    if p.percentage then
      s = s .. string.format(' %d%%', p.percentage)
    elseif p.message then
      s = s .. ', ' .. p.message
    end
    return s
  end
  return 'latent'
end

return M
