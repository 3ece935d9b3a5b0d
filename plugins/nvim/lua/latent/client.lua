-- Finds latentd, starts one LSP client per project root with vim.lsp.start_client (the API
-- that exists from Neovim 0.7 on) and attaches buffers to it.
local config = require('latent.config')

local M = {}

-- root directory -> client id
local clients = {}
-- root directory -> number of times latentd exited abnormally there
local crashes = {}
-- Restarts after a crash, per root, before Latent stops starting latentd for that root (a daemon
-- that dies on start would otherwise be relaunched on every BufEnter).
M.max_restarts = 3

-- Indexing progress by client id: token -> WorkDoneProgress value; read by the status line.
M.progress = {}

local uv = vim.uv or vim.loop

-- Neovim 0.11 made the client's functions methods (client:request(...)) and deprecated the
-- 0.7-0.10 form client.request(...); these call whichever this Neovim has.
local methods = vim.fn.has('nvim-0.11') == 1
function M.request(c, method, params, handler, bufnr)
  if methods then
    return c:request(method, params, handler, bufnr)
  end
  return c.request(method, params, handler, bufnr)
end
function M.request_sync(c, method, params, timeout_ms, bufnr)
  if methods then
    return c:request_sync(method, params, timeout_ms, bufnr)
  end
  return c.request_sync(method, params, timeout_ms, bufnr)
end
function M.notify(c, method, params)
  if methods then
    return c:notify(method, params)
  end
  return c.notify(method, params)
end
function M.cancel_request(c, id)
  if methods then
    return c:cancel_request(id)
  end
  return c.cancel_request(id)
end
function M.stop(c)
  if methods then
    return c:stop()
  end
  return c.stop()
end

local function exists(path)
  return path and uv.fs_stat(path) ~= nil
end

-- Directory of this plugin (…/lua/latent/client.lua -> plugin root).
local function plugin_root()
  local src = debug.getinfo(1, 'S').source:sub(2)
  return vim.fn.fnamemodify(src, ':p:h:h:h')
end

-- The daemon command: the user's `cmd`, else latentd on $PATH, else the latentd installed
-- beside this plugin (<prefix>/share/latent/nvim -> <prefix>/bin/latentd).
-- Returns the command list, or nil and a message saying what to do.
function M.find_daemon()
  local o = config.options
  if o.cmd then
    local exe = o.cmd[1]
    if not exe or vim.fn.executable(exe) ~= 1 then
      return nil, string.format("latent: cmd[1] = '%s' is not an executable; fix setup({ cmd = ... })", tostring(exe))
    end
    return vim.deepcopy(o.cmd)
  end
  local exe = vim.fn.exepath('latentd')
  if exe == '' then
    local beside = plugin_root() .. '/../../../bin/latentd'
    if vim.fn.executable(beside) == 1 then
      exe = vim.fn.fnamemodify(beside, ':p')
    end
  end
  if exe == '' then
    return nil, 'latent: latentd not found on $PATH; install Latent or set setup({ cmd = { "/path/to/latentd" } })'
  end
  return vim.list_extend({ exe }, vim.deepcopy(o.args or {}))
end

-- Nearest ancestor of `path` holding one of the root markers; the file's directory if none.
function M.find_root(path)
  local dir = vim.fn.fnamemodify(path, ':p:h')
  local cur = dir
  while cur and cur ~= '' do
    for _, marker in ipairs(config.options.root_markers) do
      if exists(cur .. '/' .. marker) then
        return cur
      end
    end
    local parent = vim.fn.fnamemodify(cur, ':h')
    if parent == cur then
      break
    end
    cur = parent
  end
  return dir
end

function M.capabilities()
  local caps = vim.lsp.protocol.make_client_capabilities()
  caps.textDocument.inlineCompletion = { dynamicRegistration = false }
  caps.window = caps.window or {}
  caps.window.workDoneProgress = true
  return caps
end

local function on_progress(err, result, ctx, cfg)
  if result and result.token ~= nil then
    local ask = package.loaded['latent.ask']
    if ask and ask.owns(result.token) then
      ask.on_partial(result.token, result.value)
      return
    end
    local completion = package.loaded['latent.completion']
    if completion and completion.owns(result.token) then
      completion.on_partial(result.token, result.value)
      return
    end
    local per_client = M.progress[ctx.client_id] or {}
    M.progress[ctx.client_id] = per_client
    local value = result.value or {}
    if value.kind == 'end' then
      per_client[result.token] = nil
    else
      per_client[result.token] = vim.tbl_extend('force', per_client[result.token] or {}, value)
    end
    vim.cmd('doautocmd <nomodeline> User LatentProgress')
    -- A statusline with require('latent').statusline() shows the progress without waiting for
    -- the next redraw.
    vim.cmd('redrawstatus!')
  end
  local default = vim.lsp.handlers['$/progress']
  if default then
    return default(err, result, ctx, cfg)
  end
end

-- Starts (or returns) the client for `root`. Returns the client id, or nil and a message.
function M.ensure(root)
  local id = clients[root]
  if id and vim.lsp.get_client_by_id(id) then
    return id
  end
  if (crashes[root] or 0) > M.max_restarts then
    return nil, string.format('latent: latentd crashed %d times for %s; see :LspLog, then :LatentRestart', crashes[root], root)
  end
  local cmd, msg = M.find_daemon()
  if not cmd then
    return nil, msg
  end
  local settings = config.server_settings()
  id = vim.lsp.start_client({
    name = 'latent',
    cmd = cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ':t') } },
    init_options = settings,
    settings = { latent = settings },
    capabilities = M.capabilities(),
    handlers = { ['$/progress'] = on_progress },
    on_exit = function(code, signal)
      if clients[root] == id then
        clients[root] = nil
      end
      M.progress[id] = nil
      if code ~= 0 or (signal and signal ~= 0) then
        crashes[root] = (crashes[root] or 0) + 1
        vim.schedule(function()
          vim.notify(string.format('latent: latentd exited (code %d, signal %d) for %s; see :LspLog', code, signal or 0, root), vim.log.levels.WARN)
        end)
      end
    end,
  })
  if not id then
    return nil, 'latent: could not start ' .. table.concat(cmd, ' ')
  end
  clients[root] = id
  return id
end

local function wanted(bufnr)
  if vim.bo[bufnr].buftype ~= '' or vim.api.nvim_buf_get_name(bufnr) == '' then
    return false
  end
  local fts = config.options.filetypes
  return #fts == 0 or vim.tbl_contains(fts, vim.bo[bufnr].filetype)
end

local notified = {}

-- Attaches `bufnr` to the client of its project, starting latentd when needed.
function M.attach(bufnr)
  bufnr = bufnr == 0 and vim.api.nvim_get_current_buf() or bufnr
  if not wanted(bufnr) then
    return nil
  end
  local root = M.find_root(vim.api.nvim_buf_get_name(bufnr))
  local id, msg = M.ensure(root)
  if not id then
    if not notified[msg] then
      notified[msg] = true
      vim.notify(msg, vim.log.levels.ERROR)
    end
    return nil
  end
  if not vim.lsp.buf_is_attached(bufnr, id) then
    vim.lsp.buf_attach_client(bufnr, id)
  end
  return id
end

-- The latent client attached to `bufnr`, if any.
function M.get(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  -- vim.lsp.get_clients arrived in 0.10, where buf_get_clients became deprecated.
  local list = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr }) or vim.lsp.buf_get_clients(bufnr)
  for _, c in pairs(list) do
    if c.name == 'latent' then
      return c
    end
  end
  return nil
end

function M.all()
  local out = {}
  for root, id in pairs(clients) do
    local c = vim.lsp.get_client_by_id(id)
    if c then
      out[root] = c
    end
  end
  return out
end

-- Stops every latent client and forgets crash counts, then re-attaches open buffers.
function M.restart()
  for _, c in pairs(M.all()) do
    M.stop(c)
  end
  clients, crashes, notified = {}, {}, {}
  vim.defer_fn(function()
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      if vim.api.nvim_buf_is_loaded(b) then
        M.attach(b)
      end
    end
  end, 200)
end

-- Sends the current settings to every running daemon (workspace/didChangeConfiguration).
function M.push_settings()
  local settings = config.server_settings()
  for _, c in pairs(M.all()) do
    c.config.settings = { latent = settings }
    M.notify(c, 'workspace/didChangeConfiguration', { settings = { latent = settings } })
  end
end

-- Position encoding negotiated with the server (utf-16 unless it said otherwise).
function M.encoding(client)
  return client.offset_encoding or 'utf-16'
end

return M
