-- Registers latent.nvim's commands; modules load on first use (setup() is the user's call).
if vim.g.loaded_latent then
  return
end
vim.g.loaded_latent = true

if vim.fn.has('nvim-0.7') ~= 1 then
  vim.api.nvim_err_writeln('latent.nvim needs Neovim 0.7 or newer')
  return
end

local function latent()
  local m = require('latent')
  if not m.did_setup then
    m.setup({})
  end
  return m
end

vim.api.nvim_create_user_command('LatentAsk', function(a)
  latent().ask(a.args, a.bang)
end, { nargs = '*', bang = true, desc = 'Ask Latent a question about this repository (!: a follow-up of the last answer)' })
vim.api.nvim_create_user_command('LatentStatus', function()
  latent().status()
end, { desc = 'Show latentd model, backend, index and cache state' })
vim.api.nvim_create_user_command('LatentReindex', function()
  latent().reindex()
end, { desc = 'Rebuild the repository index' })
vim.api.nvim_create_user_command('LatentRestart', function()
  latent().restart()
end, { desc = 'Restart latentd' })
