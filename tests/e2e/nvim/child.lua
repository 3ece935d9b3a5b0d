-- Drives a second, real Neovim (`nvim --embed --headless`) over RPC the way a user would:
-- keys go in through nvim_input and are processed by its main loop, so Insert mode, autocmds,
-- timers and the LSP client behave as in an interactive session.
local M = {}

local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')

-- A repository with a git marker and two C files; returns its path.
function M.workspace()
  local root = vim.fn.tempname()
  vim.fn.mkdir(root .. '/.git', 'p')
  vim.fn.writefile({
    '// Integer helpers used by main.c.',
    'int add(int a, int b) {',
    '  return a + b;',
    '}',
    '',
    'int mul(int a, int b) {',
    '  return a * b;',
    '}',
  }, root .. '/math.c')
  vim.fn.writefile({
    '#include <stdio.h>',
    'int add(int a, int b);',
    '',
    'int main(void) {',
    '  printf("%d\\n", add(2, 3));',
    '  return 0;',
    '}',
  }, root .. '/main.c')
  return root
end

function M.start(cwd)
  local chan = vim.fn.jobstart({ vim.v.progpath, '--embed', '--headless', '-u', here .. '/minimal_init.lua' }, {
    rpc = true,
    cwd = cwd,
  })
  assert(chan > 0, 'could not start ' .. vim.v.progpath)
  local c = { chan = chan }
  -- Runs Lua in the child and returns its value.
  function c.lua(code, ...)
    return vim.rpcrequest(chan, 'nvim_exec_lua', code, { ... })
  end
  function c.cmd(command)
    return vim.rpcrequest(chan, 'nvim_command', command)
  end
  -- Typed keys, as from a keyboard (<Tab>, <Esc> notation).
  function c.input(keys)
    return vim.rpcrequest(chan, 'nvim_input', keys)
  end
  function c.lines(buf)
    return vim.rpcrequest(chan, 'nvim_buf_get_lines', buf or 0, 0, -1, false)
  end
  function c.stop()
    pcall(vim.rpcrequest, chan, 'nvim_command', 'qall!')
    vim.fn.jobwait({ chan }, 5000)
    pcall(vim.fn.jobstop, chan)
  end
  return c
end

return M
