-- Options for latent.nvim: defaults, validation, and the subset that is sent to latentd.
-- `setup(opts)` merges the user's table over `defaults`; every other module reads `M.options`.
local M = {}

M.defaults = {
  -- Command that starts the daemon. nil: `latentd` from $PATH, then the `latentd` next to this
  -- plugin's install prefix (share/latent/nvim -> bin/latentd), as installed by the .deb.
  cmd = nil,
  -- Extra arguments appended to the daemon command line.
  args = { '--stdio' },
  -- Filetypes Latent attaches to. An empty list means every buffer that has a file on disk.
  filetypes = {},
  -- Milliseconds of typing pause before a completion is requested.
  debounce_ms = 75,
  -- Ask for completions automatically while typing. When false, only <Plug>(latent-complete).
  auto_trigger = true,
  -- Files marking a project root; the daemon indexes the first directory that holds one.
  root_markers = { '.git', '.hg', '.latent' },
  -- Sent to latentd as initializationOptions and as the `latent` configuration section, with
  -- the daemon's key names (see :help latent-server). nil fields keep the daemon's defaults.
  server = {
    model = nil, -- GGUF file of a DeepSeek-V2/V3-architecture model
    backend = nil, -- 'cpu' | 'vulkan'
    device = nil, -- GPU device index from `latent devices`
    gpuLayers = nil, -- first layers on the GPU, the rest on the CPU (default: as many as fit)
    contextBudget = nil, -- tokens of repository context per completion
  },
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

-- Merges `opts` over the defaults and validates the types a user is likely to get wrong.
function M.apply(opts)
  opts = opts or {}
  check_type('cmd', opts.cmd, 'table')
  check_type('filetypes', opts.filetypes, 'table')
  check_type('debounce_ms', opts.debounce_ms, 'number')
  check_type('server', opts.server, 'table')
  check_type('keymaps', opts.keymaps, 'table')
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
  s.debounceMs = M.options.debounce_ms
  if #M.options.filetypes > 0 then
    s.enabledLanguages = M.options.filetypes
  end
  return s
end

return M
