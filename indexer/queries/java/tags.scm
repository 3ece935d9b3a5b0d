; Additions to tree-sitter-java's tags.scm: enums, records, fields and type references.
(enum_declaration name: (identifier) @name) @definition.class
(record_declaration name: (identifier) @name) @definition.class
(field_declaration declarator: (variable_declarator name: (identifier) @name)) @definition.variable
(type_identifier) @name @reference.type
