#!/usr/bin/env python3
"""Runs pgcoro's Conan 2 recipe (conanfile.py) without Conan.

Conan is not packaged for Debian, so this provides the parts of the `conan` Python API the
recipe uses, doing what Conan's do for a CMake package: CMakeToolchain writes the
recipe's variables into a toolchain file, CMake configures/builds/installs for real,
copy/rmdir/load act on files. It then calls the recipe's methods in Conan's order
(set_version, configure, layout, requirements, validate, generate, build, package,
package_id, package_info) and checks what they did against ConanCenter's conventions.

  conan_emulation.py SOURCE_DIR WORK_DIR [-o tools=True] [-o migrator=False]
"""
import fnmatch
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

class ConanInvalidConfiguration(Exception):
    pass


class _Value:
    def __init__(self, v):
        self.v = v

    def __bool__(self):
        return self.v in (True, "True", "true")

    def __eq__(self, other):
        return str(self.v) == str(other)

    def __str__(self):
        return str(self.v)


class _Options:
    def __init__(self, declared, defaults, given):
        object.__setattr__(self, "_values", {})
        for k in declared:
            v = given.get(k, defaults.get(k))
            if str(v) not in [str(x) for x in declared[k]]:
                raise ConanInvalidConfiguration(f"option {k}={v} not in {declared[k]}")
            self._values[k] = v

    def __getattr__(self, k):
        if k not in self._values:
            raise AttributeError(f"no option {k}")
        return _Value(self._values[k])

    def __setattr__(self, k, v):
        if k not in self._values:
            raise AttributeError(f"no option {k}")
        self._values[k] = v


class _Settings:
    os = "Linux"  # the recipe refuses Windows
    arch = "x86_64"
    build_type = "Release"

    class compiler:  # noqa: N801
        value = "gcc"
        version = "12"
        cppstd = "20"

    def get_safe(self, name):
        obj = self
        for part in name.split("."):
            obj = getattr(obj, part, None)
        return obj


class _Component:
    def __init__(self):
        self.properties, self.requires, self.system_libs = {}, [], []
        self.bindirs, self.libdirs, self.includedirs = ["bin"], ["lib"], ["include"]

    def set_property(self, k, v):
        self.properties[k] = v


class _CppInfo(_Component):
    def __init__(self):
        super().__init__()
        self.components = {}

    def __getattr__(self, k):
        raise AttributeError(k)


class _CppInfoComponents(dict):
    def __missing__(self, k):
        self[k] = _Component()
        return self[k]


class _Info:
    def __init__(self, options):
        self.options, self.cleared = options, False

    def clear(self):
        self.cleared = True


class ConanFile:
    def __init__(self, source_dir, work_dir, given_options):
        self.recipe_folder = source_dir
        self.source_folder = source_dir
        self.build_folder = os.path.join(work_dir, "build")
        self.generators_folder = os.path.join(self.build_folder, "generators")
        self.package_folder = os.path.join(work_dir, "package")
        self.options = _Options(self.options, self.default_options, given_options)
        self.settings = _Settings()
        self.requirements_seen = []
        self.requirements_visible = {}
        self.cpp_info = _CppInfo()
        self.cpp_info.components = _CppInfoComponents()
        self.info = _Info(self.options)

    def requires(self, ref, visible=True, **_):
        self.requirements_seen.append(ref)
        self.requirements_visible[ref.split("/")[0]] = visible

    def output_info(self, msg):
        print(f"[recipe] {msg}")


def load(conanfile, path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def copy(conanfile, pattern, src, dst):
    os.makedirs(dst, exist_ok=True)
    copied = []
    for name in os.listdir(src):
        if fnmatch.fnmatch(name, pattern) and os.path.isfile(os.path.join(src, name)):
            shutil.copy2(os.path.join(src, name), os.path.join(dst, name))
            copied.append(name)
    return copied


def rmdir(conanfile, path):
    shutil.rmtree(path, ignore_errors=True)


def check_min_cppstd(conanfile, cppstd):
    have = conanfile.settings.get_safe("compiler.cppstd")
    if have and int(str(have).replace("gnu", "")) < int(cppstd):
        raise ConanInvalidConfiguration(f"needs C++{cppstd}")


def can_run(conanfile):
    return True


def cmake_layout(conanfile, src_folder="."):
    conanfile.layout_src_folder = src_folder


class CMakeToolchain:
    def __init__(self, conanfile):
        self.conanfile, self.variables = conanfile, {}

    def generate(self):
        os.makedirs(self.conanfile.generators_folder, exist_ok=True)
        lines = ['set(CMAKE_BUILD_TYPE "Release" CACHE STRING "")', 'set(CMAKE_CXX_STANDARD 20)']
        for k, v in self.variables.items():
            if isinstance(v, bool):
                v = "ON" if v else "OFF"
            lines.append(f'set({k} "{v}" CACHE STRING "" FORCE)')
        with open(os.path.join(self.conanfile.generators_folder, "conan_toolchain.cmake"), "w") as f:
            f.write("\n".join(lines) + "\n")


class CMakeDeps:
    def __init__(self, conanfile):
        self.conanfile = conanfile

    def generate(self):
        pass  # the build finds Debian's packages through CMake's own modules


class CMake:
    def __init__(self, conanfile):
        self.c = conanfile

    def _run(self, *args):
        print("+", " ".join(args), flush=True)
        subprocess.run(args, check=True)

    def configure(self, variables=None):
        toolchain = os.path.join(self.c.generators_folder, "conan_toolchain.cmake")
        extra = [f"-D{k}={v}" for k, v in (variables or {}).items()]
        self._run("cmake", "-S", self.c.source_folder, "-B", self.c.build_folder,
                  f"-DCMAKE_TOOLCHAIN_FILE={toolchain}", f"-DCMAKE_INSTALL_PREFIX={self.c.package_folder}",
                  *extra)

    def build(self):
        self._run("cmake", "--build", self.c.build_folder, "-j2")

    def install(self):
        self._run("cmake", "--install", self.c.build_folder, "--prefix", self.c.package_folder)


def install_fake_conan():
    mods = {name: types.ModuleType(name) for name in
            ("conan", "conan.errors", "conan.tools", "conan.tools.build", "conan.tools.cmake",
             "conan.tools.files")}
    mods["conan"].ConanFile = ConanFile
    mods["conan.errors"].ConanInvalidConfiguration = ConanInvalidConfiguration
    mods["conan.tools.build"].check_min_cppstd = check_min_cppstd
    mods["conan.tools.build"].can_run = can_run
    for n in ("CMake", "CMakeDeps", "CMakeToolchain", "cmake_layout"):
        setattr(mods["conan.tools.cmake"], n, globals()[n])
    for n in ("copy", "load", "rmdir"):
        setattr(mods["conan.tools.files"], n, globals()[n])
    sys.modules.update(mods)


def fail(msg):
    print(f"conan emulation: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    source_dir, work_dir = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    given = {}
    args = sys.argv[3:]
    while args:
        if args[0] != "-o" or len(args) < 2 or "=" not in args[1]:
            fail("usage: conan_emulation.py SOURCE WORK [-o name=value]...")
        k, v = args[1].split("=", 1)
        given[k] = v
        args = args[2:]
    shutil.rmtree(work_dir, ignore_errors=True)
    install_fake_conan()
    spec = importlib.util.spec_from_file_location("pgcoro_conanfile", os.path.join(source_dir, "conanfile.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recipe_class = next(v for v in vars(module).values()
                        if isinstance(v, type) and issubclass(v, ConanFile) and v is not ConanFile)

    # ConanCenter conventions that can be read off the class.
    if recipe_class.package_type != "header-library":
        fail("package_type must be header-library")
    if recipe_class.license != "BSL-1.0":
        fail("license must be BSL-1.0")
    if not getattr(module, "required_conan_version", "").startswith(">=2"):
        fail("required_conan_version must ask for Conan 2")

    # Conan's order of methods.
    r = recipe_class(source_dir, work_dir, given)
    r.set_version()
    cmake_text = load(r, os.path.join(source_dir, "CMakeLists.txt"))
    if f"project(pgcoro VERSION {r.version} " not in cmake_text:
        fail(f"set_version gave {r.version}, not CMakeLists.txt's version")
    r.configure()
    r.layout()
    r.requirements()
    for dep in ("boost/[", "libpq/["):
        if not any(q.startswith(dep) for q in r.requirements_seen):
            fail(f"no version-range requirement {dep}...]: {r.requirements_seen}")
    if bool(r.options.migrator) != any(q.startswith("openssl/[") for q in r.requirements_seen):
        fail(f"openssl must be required exactly with the migrator: {r.requirements_seen}")
    r.validate()
    r.generate()
    r.build()
    r.package()
    r.package_id()
    if r.info.cleared == bool(r.options.tools):
        fail("package_id must be cleared exactly when no tool is built")
    r.package_info()

    # The package.
    pkg = r.package_folder
    files = []
    for d, _, names in os.walk(pkg):
        files += [os.path.relpath(os.path.join(d, n), pkg) for n in names]
    allowed = re.compile(r"^(include/pgcoro/.*\.hpp|licenses/LICENSE|bin/pgcoro-(migrate|queries)|"
                         r"share/cmake/pgcoro/(pgcoroEmbedMigrations|pgcoro_embed_script|pgcoroTypedQueries)\.cmake)$")
    for f in files:
        if not allowed.match(f):
            fail(f"unexpected file in the package: {f}")
    for f in ("include/pgcoro/pgcoro.hpp", "licenses/LICENSE"):
        if f not in files:
            fail(f"missing from the package: {f}")
    for tool in ("pgcoro-migrate", "pgcoro-queries"):
        if ("bin/" + tool in files) != bool(r.options.tools):
            fail(f"bin/{tool} must be packaged exactly with tools=True")
        if r.options.tools:
            subprocess.run([os.path.join(pkg, "bin", tool), "--help"], check=True, stdout=subprocess.DEVNULL)
    comps = r.cpp_info.components
    if comps["core"].properties.get("cmake_target_name") != "pgcoro::pgcoro":
        fail("component core must be the target pgcoro::pgcoro")
    if bool(r.options.migrator) != ("migrator" in comps):
        fail("component migrator exists exactly with the migrator")
    # Conan's rules for components (its check_component_requires and CMakeDeps' targets):
    # every visible direct requirement is used by a component, every dependency a
    # component names is a requirement, every internal one a component; the root target
    # is not named like a component (CMakeDeps would link all components into it).
    used = set()
    for name, c in comps.items():
        for req in c.requires:
            if "::" in req:
                dep = req.split("::")[0]
                if dep not in r.requirements_visible:
                    fail(f"component {name} requires {req}, which is no requirement")
                used.add(dep)
            elif req not in comps:
                fail(f"component {name} requires unknown component {req}")
    unused = [d for d, visible in r.requirements_visible.items() if visible and d not in used]
    if unused:
        fail(f"visible requirements no component uses (Conan refuses this): {unused}")
    root_target = r.cpp_info.properties.get("cmake_target_name", "pgcoro::pgcoro")
    if root_target in [c.properties.get("cmake_target_name") for c in comps.values()]:
        fail(f"the root target {root_target} is also a component's")
    if r.options.tools and not any("bin" in c.bindirs for c in comps.values()):
        fail("with tools, a component must have bin in its bindirs (Conan aggregates components only)")
    modules = r.cpp_info.properties.get("cmake_build_modules", [])
    if not modules or not all(os.path.exists(os.path.join(pkg, m)) for m in modules):
        fail(f"cmake_build_modules must name packaged files: {modules}")
    names = sorted(os.path.basename(m) for m in modules)
    wanted = sorted(["pgcoroTypedQueries.cmake"] + (["pgcoroEmbedMigrations.cmake"] if r.options.migrator else []))
    if names != wanted:
        fail(f"cmake_build_modules {names}, expected {wanted}")
    print(f"conan emulation: pgcoro/{r.version} options {r.options._values} packaged in {pkg}: "
          f"{len(files)} files, requires {r.requirements_seen}")


if __name__ == "__main__":
    main()
