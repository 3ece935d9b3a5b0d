; Additions to tree-sitter-rust's tags.scm: constants, statics and type references.
(const_item name: (identifier) @name) @definition.constant
(static_item name: (identifier) @name) @definition.constant
(field_declaration name: (field_identifier) @name) @definition.variable
(type_identifier) @name @reference.type
