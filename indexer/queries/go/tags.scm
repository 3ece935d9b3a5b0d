; Additions to tree-sitter-go's tags.scm: package-level variables and constants.
(source_file (var_declaration (var_spec name: (identifier) @name) @definition.variable))
(source_file (const_declaration (const_spec name: (identifier) @name) @definition.constant))
(field_declaration name: (field_identifier) @name) @definition.variable
