-- Options for latent.nvim: defaults, validation, and the subset that is sent to latentd.
-- `setup(opts)` merges the user's table over `defaults`; every other module reads `M.options`.
-- The `server` keys are latentd's settings, checked against its schema (latent/schema.lua,
-- generated from `latentd --settings-schema`).
local schema = require('latent.schema')

local M = {}

M.defaults = {
  -- Command that starts the daemon. nil: `latentd` from $PATH, then the `latentd` next to this
  -- plugin's install prefix (share/latent/nvim -> bin/latentd), as installed by the .deb.
  cmd = nil,
  -- Extra arguments appended to the daemon command line.
  args = { '--stdio' },
  -- Filetypes Latent attaches to. An empty list means every buffer that has a file on disk.
  filetypes = {},
  -- Ask for completions automatically while typing (every change asks at once; latentd waits
  -- `server.debounceMs` and keeps only the newest). When false, only <Plug>(latent-complete).
  auto_trigger = true,
  -- Files marking a project root; the daemon indexes the first directory that holds one.
  root_markers = { '.git', '.hg', '.latent' },
  -- latentd's settings, sent as initializationOptions and as the `latent` configuration section
  -- (see :help latent-server). Only the keys set here are sent; the rest keep latentd's defaults.
  server = {},
  -- Insert-mode mappings. Set any to false to leave the key alone and map the <Plug> yourself.
  keymaps = {
    accept = '<Tab>',
    accept_word = '<M-Right>',
    accept_line = '<M-Down>',
    dismiss = '<C-]>',
    complete = '<M-\\>',
  },
  -- Highlight group of the ghost text.
  hl_group = 'LatentGhostText',
  ask = {
    -- Floating window size as a fraction of the editor.
    width = 0.6,
    height = 0.6,
    -- Open the quickfix window when an answer cites sources.
    open_quickfix = true,
  },
}

M.options = vim.deepcopy(M.defaults)

local function check_type(path, value, expected)
  if value ~= nil and type(value) ~= expected then
    error(string.format('latent.setup: option %s must be a %s, got %s', path, expected, type(value)), 3)
  end
end

local function check_server(server)
  for key, value in pairs(server) do
    local spec
    for _, s in ipairs(schema) do
      if s.key == key then
        spec = s
      end
    end
    if not spec and key == 'enabledLanguages' then
      error('latent.setup: set the languages that get completions with `filetypes` (sent as server.enabledLanguages)', 4)
    elseif not spec then
      local keys = vim.tbl_map(function(s) return s.key end, schema)
      error(string.format('latent.setup: server.%s is not a latentd setting; the settings are %s (see :help latent-server)',
        key, table.concat(keys, ', ')), 4)
    end
    local ok
    if spec.type == 'integer' then
      ok = type(value) == 'number' and value == math.floor(value) and value >= spec.minimum and value <= spec.maximum
    elseif spec.type == 'array' then
      ok = type(value) == 'table'
    else
      ok = type(value) == spec.type and (not spec.enum or vim.tbl_contains(spec.enum, value))
    end
    if not ok then
      local expected = spec.enum and table.concat(spec.enum, ', ')
        or spec.minimum and string.format('an integer in %d..%d', spec.minimum, spec.maximum) or ('a ' .. spec.type)
      error(string.format('latent.setup: server.%s must be %s, got %s', key, expected, vim.inspect(value)), 4)
    end
  end
end

-- Merges `opts` over the defaults and validates the types a user is likely to get wrong.
function M.apply(opts)
  opts = opts or {}
  if opts.debounce_ms ~= nil then
    error('latent.setup: debounce_ms is now latentd\'s setting server.debounceMs (the only debounce; see :help latent-server)', 2)
  end
  check_type('cmd', opts.cmd, 'table')
  check_type('filetypes', opts.filetypes, 'table')
  check_type('server', opts.server, 'table')
  check_type('keymaps', opts.keymaps, 'table')
  check_server(opts.server or {})
  M.options = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  -- Lists replace, they do not merge index by index.
  if opts.filetypes then
    M.options.filetypes = opts.filetypes
  end
  if opts.args then
    M.options.args = opts.args
  end
  return M.options
end

-- The settings object latentd receives (initializationOptions and workspace/configuration).
function M.server_settings()
  local s = {}
  for k, v in pairs(M.options.server or {}) do
    if v ~= nil then
      s[k] = v
    end
  end
  if type(s.model) == 'string' then
    -- latentd gets the path as is; '~' and $VARS are the editor's to expand.
    s.model = vim.fn.expand(s.model)
  end
  if #M.options.filetypes > 0 then
    s.enabledLanguages = M.options.filetypes
  end
  return s
end

return M
