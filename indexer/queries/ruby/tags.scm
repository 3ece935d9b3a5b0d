; Additions to tree-sitter-ruby's tags.scm: constants assigned at any level.
(assignment left: (constant) @name) @definition.constant
