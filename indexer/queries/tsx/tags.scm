; Additions to the javascript + typescript tags.scm: type aliases, enums, module-level constants.
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name) @definition.type
(program (lexical_declaration (variable_declarator name: (identifier) @name) @definition.constant))
(export_statement declaration: (lexical_declaration (variable_declarator name: (identifier) @name) @definition.constant))
(public_field_definition name: (property_identifier) @name) @definition.variable
(type_identifier) @name @reference.type
