# What `cmake --install build [--prefix P]` puts under the prefix (docs/user-guide.md#install):
#   lib/libcrunet.so.X.Y.Z (SONAME libcrunet.so.X.Y) and its development link libcrunet.so
#   include/crunet/...                 the public headers, exactly include/crunet/ of the source
#   bin/crunet-*                       the tools, with a relative RUNPATH to lib/
#   share/crunet/configs/              the training configs; models/ the zoo, small/ the CPU-sized
#   lib/cmake/crunet/                  the CMake package: find_package(crunet CONFIG) -> crunet::crunet
#   lib/pkgconfig/crunet.pc            for pkg-config users
# Everything is relative to the prefix given at install time, so the prefix may differ from
# CMAKE_INSTALL_PREFIX (the library finds its zoo beside itself, see src/models/spec.cpp).
include(CMakePackageConfigHelpers)

set(CRUNET_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/crunet)
set(CRUNET_INSTALL_CONFIGSDIR ${CMAKE_INSTALL_DATADIR}/crunet/configs)

# --- the library and its public headers -----------------------------------------------------------
# Keep the RUNPATH to dependencies outside the system folders (the CUDA libraries under
# /usr/local/cuda), which the build tree's RUNPATH had.
set_target_properties(crunet PROPERTIES INSTALL_RPATH_USE_LINK_PATH ON)
install(TARGETS crunet EXPORT crunetTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# include/crunet/ holds the public API and nothing else (DESIGN §2); private headers live in src/.
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/crunet DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")

# --- the tools ------------------------------------------------------------------------------------
file(RELATIVE_PATH crunet_lib_from_bin ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
foreach(tool crunet-train crunet-eval crunet-info crunet-bench crunet-bench-data crunet-convert
             crunet-make-list)
  if(TARGET ${tool})
    set_target_properties(${tool} PROPERTIES INSTALL_RPATH "$ORIGIN/${crunet_lib_from_bin}")
    install(TARGETS ${tool} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
endforeach()

# --- the configs: the zoo (models/), the CPU-sized ones (small/), the ImageNet/Places365 ones -------
install(DIRECTORY ${PROJECT_SOURCE_DIR}/configs/ DESTINATION ${CRUNET_INSTALL_CONFIGSDIR}
  FILES_MATCHING PATTERN "*.yaml")

# --- the CMake package ----------------------------------------------------------------------------
install(EXPORT crunetTargets NAMESPACE crunet:: DESTINATION ${CRUNET_INSTALL_CMAKEDIR}
  FILE crunetTargets.cmake)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/crunetConfig.cmake.in
  ${PROJECT_BINARY_DIR}/crunetConfig.cmake
  INSTALL_DESTINATION ${CRUNET_INSTALL_CMAKEDIR}
  PATH_VARS CRUNET_INSTALL_CONFIGSDIR)
# 0.x: a minor version may break the API (the SONAME carries MAJOR.MINOR), so only the same
# MAJOR.MINOR is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/crunetConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/crunetConfig.cmake ${PROJECT_BINARY_DIR}/crunetConfigVersion.cmake
  DESTINATION ${CRUNET_INSTALL_CMAKEDIR})

# --- pkg-config -----------------------------------------------------------------------------------
# The prefix is found from the .pc file's own folder, so the file is right wherever it is installed.
file(RELATIVE_PATH crunet_prefix_from_pcdir ${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig
     ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" crunet_prefix_from_pcdir "${crunet_prefix_from_pcdir}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/crunet.pc.in ${PROJECT_BINARY_DIR}/crunet.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/crunet.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
