; Additions to tree-sitter-python's tags.scm: attribute and type references.
(class_definition superclasses: (argument_list (identifier) @name)) @reference.class
(type (identifier) @name) @reference.type
