-- :checkhealth latent — is latentd found and runnable, does the model load, is the index ready.
local M = {}

-- vim.health.start/ok/… exist from 0.10; 0.8–0.9 have vim.health.report_*; 0.7 has require('health').
local function reporter()
  local h = vim.health or require('health')
  return {
    start = h.start or h.report_start,
    ok = h.ok or h.report_ok,
    info = h.info or h.report_info,
    warn = h.warn or h.report_warn,
    error = h.error or h.report_error,
  }
end

local function status_of(client)
  local resp = require('latent.client').request_sync(client, 'latent/status', vim.empty_dict(), 5000, 0)
  if not resp then
    return nil, 'no answer to latent/status within 5 s'
  end
  if resp.err then
    return nil, resp.err.message or vim.inspect(resp.err)
  end
  return resp.result
end

function M.check()
  local h = reporter()
  local config = require('latent.config')
  local client_mod = require('latent.client')

  h.start('latentd')
  local cmd, msg = client_mod.find_daemon()
  if not cmd then
    h.error(msg)
    return
  end
  local version = vim.fn.system({ cmd[1], '--version' })
  if vim.v.shell_error ~= 0 then
    h.error(string.format('%s --version failed: %s', cmd[1], vim.trim(version)))
    return
  end
  h.ok(string.format('%s (%s)', cmd[1], vim.trim(version)))
  h.info('more checks (CPU kernels, GPUs, the model\'s fit in memory, the KV cache) from a shell: latent doctor')

  h.start('model')
  local model = config.options.server.model
  if model and (vim.uv or vim.loop).fs_stat(vim.fn.expand(model)) == nil then
    h.error('model ' .. model .. ' does not exist; fix setup({ server = { model = ... } })')
  elseif model then
    h.info('model ' .. model)
  else
    h.warn('no model configured: completions stay empty; set setup({ server = { model = "/path/model.gguf" } })')
  end
  local clients = client_mod.all()
  if next(clients) == nil then
    h.warn('latentd is not running; open a file of a project to start it, then run :checkhealth latent again')
    return
  end
  for root, c in pairs(clients) do
    local st, err = status_of(c)
    if not st then
      h.error(string.format('latentd for %s: %s', root, err))
    else
      -- latentd's status: model = { loaded, name, path, backend, problem }, workspaces = { { root, state, files } }
      local m = type(st.model) == 'table' and st.model or {}
      if m.loaded then
        h.ok(string.format('%s: model %s loaded (backend %s)', root, tostring(m.name or m.path), tostring(m.backend)))
      else
        local problem = type(m.problem) == 'string' and m.problem ~= '' and m.problem or 'no model configured'
        h.error(string.format('%s: no model loaded: %s', root, problem))
      end
      h.start('index: ' .. root)
      for _, w in ipairs(type(st.workspaces) == 'table' and st.workspaces or {}) do
        local line = string.format('%s: %s', tostring(w.root), tostring(w.state))
        if type(w.files) == 'number' then
          line = line .. string.format(' (%d files)', w.files)
        end
        if w.state == 'ready' then
          h.ok(line)
        elseif w.state == 'failed' or w.state == 'unavailable' then
          h.error(line .. (type(w.error) == 'string' and (': ' .. w.error) or ''))
        else
          h.info(line)
        end
      end
    end
  end
end

return M
