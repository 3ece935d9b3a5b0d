; Additions to tree-sitter-cpp's tags.scm, which has no references, macros or namespaces.
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name) @definition.macro
(enumerator name: (identifier) @name) @definition.constant
(namespace_definition name: (namespace_identifier) @name) @definition.module
(alias_declaration name: (type_identifier) @name) @definition.type
(concept_definition name: (identifier) @name) @definition.type
(union_specifier name: (type_identifier) @name body: (_)) @definition.class
(translation_unit (declaration declarator: (init_declarator declarator: (identifier) @name)) @definition.variable)
(declaration_list (declaration declarator: (init_declarator declarator: (identifier) @name)) @definition.variable)
(function_declarator declarator: (operator_name) @name) @definition.function
(function_declarator declarator: (destructor_name) @name) @definition.method
(function_declarator declarator: (qualified_identifier name: (qualified_identifier name: (identifier) @name))) @definition.method
(function_declarator declarator: (qualified_identifier name: (destructor_name) @name)) @definition.method
(call_expression function: (identifier) @name) @reference.call
(call_expression function: (field_expression field: (field_identifier) @name)) @reference.call
(call_expression function: (qualified_identifier name: (identifier) @name)) @reference.call
(call_expression function: (template_function name: (identifier) @name)) @reference.call
(new_expression type: (type_identifier) @name) @reference.class
(type_identifier) @name @reference.type
(namespace_identifier) @name @reference.module
