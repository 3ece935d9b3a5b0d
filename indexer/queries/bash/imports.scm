(command name: (command_name (word) @f) argument: (_) @import (#any-of? @f "source" "."))
