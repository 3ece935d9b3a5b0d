(use_declaration argument: (_) @import)
; The whole declaration ("mod x"), told apart from a `use x`.
(mod_item !body) @import
