(call method: (identifier) @f arguments: (argument_list . (string (string_content) @import)) (#any-of? @f "require" "require_relative" "load"))
