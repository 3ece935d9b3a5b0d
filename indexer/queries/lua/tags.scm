; Additions to tree-sitter-lua's tags.scm: module-level locals.
(chunk (variable_declaration (assignment_statement (variable_list name: (identifier) @name))) @definition.variable)
