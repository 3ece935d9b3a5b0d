-- A small busted-style runner for headless Neovim: describe/it/before_each, assertions with
-- messages, and the closing line "N passed, N failed" that CI reads. Exits non-zero on failure.
local M = {}

local tests = {}
local stack = {}

function M.describe(name, fn)
  table.insert(stack, { name = name, before = {} })
  fn()
  table.remove(stack)
end

function M.before_each(fn)
  table.insert(stack[#stack].before, fn)
end

function M.it(name, fn)
  local names, befores = {}, {}
  for _, s in ipairs(stack) do
    table.insert(names, s.name)
    vim.list_extend(befores, s.before)
  end
  table.insert(names, name)
  table.insert(tests, { name = table.concat(names, ' > '), fn = fn, before = befores })
end

local function fmt(v)
  return type(v) == 'string' and string.format('%q', v) or vim.inspect(v)
end

M.eq = function(expected, actual, what)
  if not vim.deep_equal(expected, actual) then
    error(string.format('%sexpected %s, got %s', what and (what .. ': ') or '', fmt(expected), fmt(actual)), 2)
  end
end

M.truthy = function(v, what)
  if not v then
    error((what or 'expected a true value') .. ', got ' .. fmt(v), 2)
  end
  return v
end

-- Waits up to `ms` for `cond()` to return a true value, processing events meanwhile.
M.wait_for = function(ms, cond, what)
  local value
  local ok = vim.wait(ms, function()
    value = cond()
    return value
  end, 20)
  if not ok then
    error(string.format('timed out after %d ms waiting for %s', ms, what or 'condition'), 2)
  end
  return value
end

-- Loads each spec module (which registers tests through M.describe/M.it), runs them all and
-- quits Neovim with status 1 if any failed.
function M.run(modules)
  for _, m in ipairs(modules) do
    local ok, err = pcall(require, m)
    if not ok then
      table.insert(tests, { name = m .. ' (load)', fn = function() error(err) end, before = {} })
    end
  end
  local passed, failed = 0, 0
  for _, t in ipairs(tests) do
    local start = vim.loop.hrtime()
    local ok, err = xpcall(function()
      for _, b in ipairs(t.before) do
        b()
      end
      t.fn()
    end, debug.traceback)
    local ms = (vim.loop.hrtime() - start) / 1e6
    if ok then
      passed = passed + 1
      io.stdout:write(string.format('ok    %s (%.0f ms)\n', t.name, ms))
    else
      failed = failed + 1
      io.stdout:write(string.format('FAIL  %s (%.0f ms)\n%s\n', t.name, ms, err))
    end
  end
  io.stdout:write(string.format('%d passed, %d failed\n', passed, failed))
  io.stdout:flush()
  vim.cmd(failed == 0 and 'qall!' or 'cquit 1')
end

return M
