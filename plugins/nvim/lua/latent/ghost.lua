-- Pure logic of ghost text: which part of an InlineCompletionItem is still to be shown, how it
-- is laid out as extmarks on this Neovim, and what a word/line partial accept takes.
-- No buffer or window access happens here, so tests can call it with plain values.
local M = {}

-- LSP positions count `encoding` code units; Neovim columns are bytes. `line` is the text of
-- the position's line.
function M.to_byte_col(line, character, encoding)
  if encoding == 'utf-8' then
    return math.min(character, #line)
  end
  local ok, col = pcall(vim.str_byteindex, line, character, encoding == 'utf-16')
  if not ok then
    return #line -- past the end of the line: LSP clamps to the line's end (3.17 "Position")
  end
  return col
end

function M.from_byte_col(line, col, encoding)
  if encoding == 'utf-8' then
    return col
  end
  local utf32, utf16 = vim.str_utfindex(line, math.min(col, #line))
  return encoding == 'utf-16' and utf16 or utf32
end

-- InlineCompletionItem.insertText is a string or a StringValue snippet (LSP 3.18). Ghost text
-- shows a snippet's default text: placeholders collapse to their defaults, tab stops vanish.
function M.insert_text(item)
  local t = item.insertText
  if type(t) == 'string' then
    return t
  end
  if type(t) == 'table' and t.kind == 'snippet' and type(t.value) == 'string' then
    local s = t.value
    s = s:gsub('%${%d+:([^}]*)}', '%1'):gsub('%${%d+}', ''):gsub('%$%d+', '')
    return (s:gsub('\\([$}\\])', '%1'))
  end
  return nil
end

-- Turns an item into a suggestion anchored at the cursor.
--   line:   text of the cursor line; row/col: cursor (0-based row, byte column)
--   get_line(r): text of row r (the item's range may start on an earlier row)
-- Returns { text = what is shown after the cursor, replace_len = bytes after the cursor that a
-- full accept replaces } or nil when the item does not continue what is typed.
function M.suggestion(item, row, col, get_line, encoding)
  local text = M.insert_text(item)
  if not text or text == '' then
    return nil
  end
  local line = get_line(row)
  if not item.range then
    return { text = text, replace_len = 0 }
  end
  local s, e = item.range.start, item.range['end']
  if s.line ~= row or e.line ~= row then
    -- Multi-row replacements cannot be previewed as text after the cursor.
    return nil
  end
  local scol = M.to_byte_col(line, s.character, encoding)
  local ecol = M.to_byte_col(line, e.character, encoding)
  if scol > col or ecol < col then
    return nil
  end
  local typed = line:sub(scol + 1, col)
  if text:sub(1, #typed) ~= typed then
    return nil
  end
  local rest = text:sub(#typed + 1)
  if rest == '' then
    return nil
  end
  return { text = rest, replace_len = ecol - col }
end

local function split_lines(text)
  return vim.split(text, '\n', { plain = true })
end
M.split_lines = split_lines

-- Extmark layout of `text` shown at the cursor.
--   after_cursor: the line's text right of the cursor
--   inline: whether virt_text_pos = 'inline' exists (Neovim 0.10+)
-- Returns { virt_text_pos = 'inline'|'overlay'|'eol', first = string, lines = {string...} }:
-- `first` goes on the cursor line, `lines` become virt_lines below it.
function M.layout(text, after_cursor, inline)
  local lines = split_lines(text)
  local first = table.remove(lines, 1)
  local pos
  if inline then
    pos = 'inline'
  elseif after_cursor == '' then
    -- Nothing to hide right of the cursor, so an overlay looks exactly like inline text.
    pos = 'overlay'
  else
    -- Overlay would cover real text; show the suggestion after the line's end instead.
    pos = 'eol'
  end
  if pos == 'inline' and #lines > 0 and after_cursor ~= '' then
    -- Accepting moves the rest of the line after the last suggested line; show it there.
    lines[#lines] = lines[#lines] .. after_cursor
  end
  return { virt_text_pos = pos, first = first, lines = lines }
end

-- The next word of `text`, as VS Code's "accept next word": leading blanks plus a run of word
-- characters, or plus a run of punctuation; a leading line break brings the next indentation.
function M.next_word(text)
  if text:sub(1, 1) == '\n' then
    return text:match('^\n[ \t]*')
  end
  return text:match('^[ \t]*[%w_]+') or text:match('^[ \t]*[^%w_%s]+') or text:match('^[ \t]+')
    or text
end

-- The rest of the current line of `text`; when `text` starts with a line break, that break and
-- the whole next line.
function M.next_line(text)
  local nl = text:find('\n', 1, true)
  if not nl then
    return text
  end
  if nl > 1 then
    return text:sub(1, nl - 1)
  end
  local nl2 = text:find('\n', 2, true)
  return nl2 and text:sub(1, nl2 - 1) or text
end

-- After the user typed `typed` right where the suggestion was shown: what remains of `text`,
-- or nil if they typed something else (or everything).
function M.advance(text, typed)
  if typed == '' then
    return text
  end
  if text:sub(1, #typed) ~= typed or #typed >= #text then
    return nil
  end
  return text:sub(#typed + 1)
end

return M
