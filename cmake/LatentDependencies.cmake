# Third-party code comes from Debian packages (packaging/install-deps.sh) and from the npm
# registry (indexer/grammars/package-lock.json); nothing is copied into the repository.
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash)
# HTTP server and client (latentd --http, --remote): Debian's compiled cpp-httplib.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
find_package(SQLite3 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
if(LATENT_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# GPU backends default to ON when their toolchain is present, OFF (with the reason) otherwise.
find_package(Vulkan QUIET COMPONENTS glslc)
if(Vulkan_FOUND AND Vulkan_glslc_FOUND)
  set(_latent_vulkan_default ON)
else()
  set(_latent_vulkan_default OFF)
  message(STATUS "Vulkan backend: OFF by default (needs the Vulkan loader and glslc: apt-get install libvulkan-dev glslc)")
endif()
option(LATENT_VULKAN "Build the Vulkan backend" ${_latent_vulkan_default})
if(LATENT_VULKAN AND NOT (Vulkan_FOUND AND Vulkan_glslc_FOUND))
  message(FATAL_ERROR "LATENT_VULKAN=ON but the Vulkan loader or glslc was not found")
endif()

include(CheckLanguage)
check_language(CUDA)
if(CMAKE_CUDA_COMPILER)
  set(_latent_cuda_default ON)
else()
  set(_latent_cuda_default OFF)
  message(STATUS "CUDA backend: OFF by default (nvcc not found; set CMAKE_CUDA_COMPILER or add it to PATH)")
endif()
option(LATENT_CUDA "Build the CUDA backend" ${_latent_cuda_default})
if(LATENT_CUDA)
  message(STATUS "CUDA toolchain found; this version has no CUDA backend yet, so nothing is built with it")
endif()
message(STATUS "Backends: cpu=ON vulkan=${LATENT_VULKAN}")

# tree-sitter runtime and grammars, from the npm packages pinned in indexer/grammars.
set(LATENT_GRAMMARS_DIR "${CMAKE_SOURCE_DIR}/indexer/grammars/node_modules" CACHE PATH
    "node_modules holding tree-sitter and its grammar packages (npm ci in indexer/grammars)")
if(NOT EXISTS "${LATENT_GRAMMARS_DIR}/tree-sitter/vendor/tree-sitter/lib/src/lib.c")
  message(FATAL_ERROR "tree-sitter sources not found under ${LATENT_GRAMMARS_DIR}.\n"
          "Run: (cd indexer/grammars && npm ci)   or bash packaging/install-deps.sh")
endif()
