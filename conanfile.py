# Conan 2 recipe of pgcoro (header-only; the optional pgcoro-migrate tool is a binary).
#   conan create . --build=missing                       # the library, with the migrator
#   conan create . -o "pgcoro/*:tools=True" --build=missing
# test_package/ builds a consumer against the package with find_package(pgcoro).
import os
import re

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, load, rmdir

required_conan_version = ">=2.0"


class PgcoroConan(ConanFile):
    name = "pgcoro"
    description = ("Header-only C++20 PostgreSQL client for Boost.Asio: coroutines and any "
                   "completion token over libpq's pipeline mode, a pool, typed rows, "
                   "transactions, a migrator.")
    license = "BSL-1.0"
    topics = ("postgresql", "libpq", "asio", "coroutines", "database", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "migrator": [True, False],  # pgcoro::migrator (needs OpenSSL)
        "tools": [True, False],     # the pgcoro-migrate CLI (needs the migrator)
    }
    default_options = {
        "migrator": True,
        "tools": False,
    }
    exports_sources = ("CMakeLists.txt", "LICENSE", "CHANGELOG.md", "include/*", "cmake/*",
                       "tools/*")
    no_copy_source = True

    def set_version(self):
        # One version, in CMakeLists.txt's project().
        text = load(self, os.path.join(self.recipe_folder, "CMakeLists.txt"))
        match = re.search(r"project\(\s*pgcoro\s+VERSION\s+([0-9]+\.[0-9]+\.[0-9]+)", text)
        if not match:
            raise ConanInvalidConfiguration("no project(pgcoro VERSION x.y.z) in CMakeLists.txt")
        self.version = match.group(1)

    def configure(self):
        if self.options.tools:
            # The CLI uses the migrator.
            self.options.migrator = True

    def layout(self):
        cmake_layout(self, src_folder=".")

    def requirements(self):
        # Boost's headers (Asio, PFR, Describe, UUID, Container, System), libpq; OpenSSL's
        # crypto for the migrator.
        self.requires("boost/[>=1.81.0 <2]")
        self.requires("libpq/[>=14 <19]")
        if self.options.migrator:
            self.requires("openssl/[>=1.1 <4]")
        if self.options.tools:
            # Built into the tool only: not passed on to consumers.
            self.requires("cli11/[>=2.3 <3]", visible=False)
            self.requires("fmt/[>=9 <12]", visible=False)

    def package_id(self):
        # The library is headers: one package for every configuration. Only the tool is
        # built code, so a package with it keeps its settings.
        if not self.info.options.tools:
            self.info.clear()

    def validate(self):
        check_min_cppstd(self, 20)
        if self.settings.os == "Windows":
            # The engine waits on libpq's socket with POSIX calls (poll, netinet).
            raise ConanInvalidConfiguration("pgcoro supports POSIX systems, not Windows")
        if self.options.tools and not self.options.migrator:
            raise ConanInvalidConfiguration("pgcoro's tools need the migrator (-o migrator=True)")

    def generate(self):
        tc = CMakeToolchain(self)
        tc.variables["PGCORO_BUILD_TESTS"] = False
        tc.variables["PGCORO_BUILD_EXAMPLES"] = False
        tc.variables["PGCORO_BUILD_BENCHMARKS"] = False
        tc.variables["PGCORO_BUILD_TOOLS"] = bool(self.options.tools)
        tc.variables["PGCORO_MIGRATOR"] = "ON" if self.options.migrator else "OFF"
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        if self.options.tools:
            cmake.build()

    def package(self):
        copy(self, "LICENSE", src=self.source_folder, dst=os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.install()
        # Conan generates the consumers' CMake and pkg-config files from package_info();
        # the installed ones would shadow them. The embedding function stays (build module).
        rmdir(self, os.path.join(self.package_folder, "share", "pkgconfig"))
        rmdir(self, os.path.join(self.package_folder, "share", "doc"))
        cmake_dir = os.path.join(self.package_folder, "share", "cmake", "pgcoro")
        for f in ("pgcoroConfig.cmake", "pgcoroConfigVersion.cmake", "pgcoroTargets.cmake"):
            if os.path.exists(os.path.join(cmake_dir, f)):
                os.remove(os.path.join(cmake_dir, f))
        for f in os.listdir(cmake_dir):
            if f.startswith("pgcoroTargets-"):
                os.remove(os.path.join(cmake_dir, f))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "pgcoro")
        # The root target must not be named like a component: CMakeDeps would make
        # pgcoro::pgcoro link every component (the migrator, OpenSSL) into every consumer.
        self.cpp_info.set_property("cmake_target_name", "pgcoro::all")
        self.cpp_info.set_property("pkg_config_name", "pgcoro-all")
        # pgcoro_typed_queries() and, with the migrator, pgcoro_embed_migrations()
        # (CMakeDeps reads build modules from the root only).
        modules = [os.path.join("share", "cmake", "pgcoro", "pgcoroTypedQueries.cmake")]
        if self.options.migrator:
            modules.append(os.path.join("share", "cmake", "pgcoro", "pgcoroEmbedMigrations.cmake"))
        self.cpp_info.set_property("cmake_build_modules", modules)

        def header_component(name, target, pc_name, requires):
            c = self.cpp_info.components[name]
            c.set_property("cmake_target_name", target)
            c.set_property("pkg_config_name", pc_name)
            c.bindirs = []
            c.libdirs = []
            c.requires = requires
            return c

        core = header_component("core", "pgcoro::pgcoro", "pgcoro", ["boost::headers", "libpq::pq"])
        if self.settings.os in ("Linux", "FreeBSD"):
            core.system_libs = ["pthread"]
        if self.options.migrator:
            migrator = header_component("migrator", "pgcoro::migrator", "pgcoro-migrator",
                                        ["core", "openssl::crypto"])
            if self.options.tools:
                migrator.bindirs = ["bin"]  # pgcoro-migrate on PATH in Conan's run environments
