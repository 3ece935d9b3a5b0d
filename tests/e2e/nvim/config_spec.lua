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
    local ok, err = pcall(config.apply, { debounce_ms = 'fast' })
    t.eq(false, ok)
    t.truthy(tostring(err):find('debounce_ms must be a number', 1, true), tostring(err))
  end)

  t.it("sends the daemon's key names, an expanded model path and enabledLanguages", function()
    config.apply({ filetypes = { 'c', 'lua' }, debounce_ms = 20, server = { model = '~/m.gguf', contextBudget = 512 } })
    t.eq({ model = vim.fn.expand('~') .. '/m.gguf', contextBudget = 512, debounceMs = 20, enabledLanguages = { 'c', 'lua' } },
      config.server_settings())
    config.apply({})
    t.eq({ debounceMs = 75 }, config.server_settings())
  end)
end)
