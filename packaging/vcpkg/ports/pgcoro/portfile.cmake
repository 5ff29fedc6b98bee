# The vcpkg port of pgcoro, as an overlay port that builds this checkout:
#   vcpkg install pgcoro --overlay-ports=<pgcoro>/packaging/vcpkg/ports
# vcpkg's binary cache keys on the port's files, not on this checkout: after changing the
# sources, install with --no-binarycaching (or bump "port-version") to rebuild.
# For the vcpkg registry, the next line becomes
#   vcpkg_from_github(OUT_SOURCE_PATH SOURCE_PATH REPO <owner>/pgcoro REF "v${VERSION}"
#                     SHA512 <the release archive's SHA-512> HEAD_REF main)
get_filename_component(SOURCE_PATH "${CMAKE_CURRENT_LIST_DIR}/../../../.." ABSOLUTE)

# Header-only (the optional tool is release-only): one configuration.
set(VCPKG_BUILD_TYPE release)

vcpkg_check_features(OUT_FEATURE_OPTIONS FEATURE_OPTIONS
    FEATURES
        migrator PGCORO_MIGRATOR
        tools    PGCORO_BUILD_TOOLS
)

vcpkg_cmake_configure(
    SOURCE_PATH "${SOURCE_PATH}"
    OPTIONS
        ${FEATURE_OPTIONS}
        -DPGCORO_BUILD_TESTS=OFF
        -DPGCORO_BUILD_EXAMPLES=OFF
        -DPGCORO_BUILD_BENCHMARKS=OFF
        "-DPGCORO_INSTALL_CMAKEDIR=share/${PORT}"
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup()
vcpkg_fixup_pkgconfig()

if("tools" IN_LIST FEATURES)
    vcpkg_copy_tools(TOOL_NAMES pgcoro-migrate pgcoro-queries AUTO_CLEAN)
endif()

# The licence is installed as share/pgcoro/copyright below; the changelog stays in the repo.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/share/doc")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
