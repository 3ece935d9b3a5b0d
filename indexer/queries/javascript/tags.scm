; Additions to tree-sitter-javascript's tags.scm: module-level constants and class fields.
(program (lexical_declaration (variable_declarator name: (identifier) @name value: (_) @value) @definition.constant))
(field_definition property: (property_identifier) @name) @definition.variable
