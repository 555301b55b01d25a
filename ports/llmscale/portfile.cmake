# vcpkg overlay port for llmscale, built from the source tree this port sits in:
#   vcpkg install llmscale --overlay-ports=<llmscale>/ports
# (A registry port would use vcpkg_from_github with a release tag and its SHA512 instead.)
set(VCPKG_BUILD_TYPE release) # header-only: one configuration is enough
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DLLMSCALE_BUILD_TESTS=OFF
    -DLLMSCALE_BUILD_EXAMPLES=OFF
    -DLLMSCALE_BUILD_BENCH=OFF
    -DLLMSCALE_BUILD_TOOLS=OFF
    -DLLMSCALE_INSTALL=ON
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/llmscale)

file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/lib" "${CURRENT_PACKAGES_DIR}/share/doc")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
