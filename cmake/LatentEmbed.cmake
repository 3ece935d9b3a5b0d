# latent_embed_files(TARGET <lib> NAMESPACE <ns> FILES <name>=<path>...)
# Builds a static library exposing the files' bytes as
#   std::string_view <ns>::find(std::string_view name)   (empty when unknown)
# so queries and shaders ship inside the binaries instead of beside them.
function(latent_embed_files)
  cmake_parse_arguments(E "" "TARGET;NAMESPACE" "FILES" ${ARGN})
  set(out_cpp "${CMAKE_CURRENT_BINARY_DIR}/${E_TARGET}_embedded.cpp")
  set(deps "")
  set(args "")
  foreach(entry ${E_FILES})
    string(REPLACE "=" ";" parts "${entry}")
    list(GET parts 1 path)
    list(APPEND deps "${path}")
    list(APPEND args "${entry}")
  endforeach()
  string(REPLACE ";" "|" args_joined "${args}")
  add_custom_command(
    OUTPUT "${out_cpp}"
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_cpp} -DNS=${E_NAMESPACE} "-DENTRIES=${args_joined}"
            -P ${CMAKE_SOURCE_DIR}/cmake/embed_files.cmake
    DEPENDS ${deps} ${CMAKE_SOURCE_DIR}/cmake/embed_files.cmake
    COMMENT "Embedding ${E_TARGET}"
    VERBATIM)
  add_library(${E_TARGET} STATIC "${out_cpp}")
endfunction()
