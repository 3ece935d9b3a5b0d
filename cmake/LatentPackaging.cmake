# Install layout and the .deb (cpack -G DEB in the build directory).
include(GNUInstallDirs)
configure_file(${CMAKE_SOURCE_DIR}/packaging/systemd/latentd.service
               ${CMAKE_BINARY_DIR}/packaging/latentd.service @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/packaging/latentd.service DESTINATION lib/systemd/user)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
if(EXISTS ${CMAKE_SOURCE_DIR}/plugins/nvim)
  install(DIRECTORY ${CMAKE_SOURCE_DIR}/plugins/nvim/ DESTINATION ${CMAKE_INSTALL_DATADIR}/latent/nvim)
endif()

set(CPACK_PACKAGE_NAME latent)
set(CPACK_PACKAGE_VENDOR "Latent")
set(CPACK_PACKAGE_CONTACT "Latent maintainers")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
include(CPack)
