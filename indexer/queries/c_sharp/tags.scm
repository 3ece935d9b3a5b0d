; Additions to tree-sitter-c-sharp's tags.scm: enums, records, properties.
(enum_declaration name: (identifier) @name) @definition.type
(record_declaration name: (identifier) @name) @definition.class
(property_declaration name: (identifier) @name) @definition.variable
