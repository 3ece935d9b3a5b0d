-- Minimal init for the headless Neovim specs: only latent.nvim and this directory on the
-- runtimepath, no user config, no shada or swap files.
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local plugin = vim.env.LATENT_NVIM_PLUGIN or vim.fn.fnamemodify(here .. '/../../../plugins/nvim', ':p')
vim.opt.runtimepath = { plugin, vim.env.VIMRUNTIME }
package.path = here .. '/?.lua;' .. package.path
vim.opt.shadafile = 'NONE'
vim.opt.swapfile = false
vim.opt.more = false
vim.cmd('runtime! plugin/latent.lua')
