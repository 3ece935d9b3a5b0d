(use_declaration argument: (_) @import)
(mod_item name: (identifier) @import !body)
