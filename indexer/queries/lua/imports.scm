(function_call name: (identifier) @f arguments: (arguments . (string content: (string_content) @import)) (#eq? @f "require"))
