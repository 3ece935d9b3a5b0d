(import_statement name: (dotted_name) @import)
(import_statement name: (aliased_import name: (dotted_name) @import))
; The whole statement: the names it imports may be submodules.
(import_from_statement) @import
