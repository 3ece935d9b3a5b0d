(import_statement source: (string) @import)
(export_statement source: (string) @import)
(call_expression function: (identifier) @f arguments: (arguments . (string) @import) (#eq? @f "require"))
