-- Unit specs of latent.nvim's options: merging, validation, and the settings latentd receives.
local t = require('spec')
local config = require('latent.config')

t.describe('config', function()
  t.it('merges user options over the defaults, lists replaced whole', function()
    local o = config.apply({ filetypes = { 'c' }, keymaps = { accept = false }, server = { backend = 'vulkan' } })
    t.eq({ 'c' }, o.filetypes)
    t.eq(false, o.keymaps.accept)
    t.eq('<M-Right>', o.keymaps.accept_word)
    t.eq('vulkan', o.server.backend)
  end)

  t.it('rejects options of the wrong type with the option named', function()
    local ok, err = pcall(config.apply, { filetypes = 'c' })
    t.eq(false, ok)
    t.truthy(tostring(err):find('filetypes must be a table', 1, true), tostring(err))
  end)

  t.it("checks server settings against latentd's schema", function()
    local ok, err = pcall(config.apply, { server = { debounceMs = -5 } })
    t.eq(false, ok)
    t.truthy(tostring(err):find('server.debounceMs must be an integer in 0..10000', 1, true), tostring(err))
    ok, err = pcall(config.apply, { server = { backend = 'tpu' } })
    t.truthy(not ok and tostring(err):find('server.backend must be auto, cpu, vulkan', 1, true), tostring(err))
    ok, err = pcall(config.apply, { server = { modelPath = 'x' } })
    t.truthy(not ok and tostring(err):find('server.modelPath is not a latentd setting', 1, true), tostring(err))
    -- The plugin's own debounce is gone: latentd's is the only one.
    ok, err = pcall(config.apply, { debounce_ms = 20 })
    t.truthy(not ok and tostring(err):find('server.debounceMs', 1, true), tostring(err))
  end)

  t.it("sends only the settings the user set, with the daemon's key names", function()
    config.apply({ filetypes = { 'c', 'lua' }, server = { model = '~/m.gguf', contextBudget = 512, debounceMs = 20 } })
    t.eq({ model = vim.fn.expand('~') .. '/m.gguf', contextBudget = 512, debounceMs = 20, enabledLanguages = { 'c', 'lua' } },
      config.server_settings())
    config.apply({})
    t.eq({}, config.server_settings())
  end)

  t.it(':help latent-server lists every setting of the schema', function()
    local help = table.concat(vim.fn.readfile(vim.api.nvim_get_runtime_file('doc/latent.txt', false)[1]), '\n')
    for _, s in ipairs(require('latent.schema')) do
      t.truthy(help:find('\n  ' .. s.key .. ' %(' .. s.type), s.key .. ' in :help latent-server')
    end
  end)
end)
