# Conan 2 recipe for llmscale (header-only): `conan create .` from the source tree.
import os
import re

from conan import ConanFile
from conan.tools.build import check_min_cppstd
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import load, rmdir


class LlmscaleConan(ConanFile):
    name = "llmscale"
    description = "Header-only C++17 autoscaling policies for LLM inference serving"
    license = "Apache-2.0"
    topics = ("autoscaling", "llm", "inference", "kubernetes", "header-only")
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "CMakeLists.txt", "cmake/*", "include/*", "LICENSE"
    no_copy_source = True

    def set_version(self):
        # The version is defined once, in include/llmscale/core/version.hpp.
        text = load(self, os.path.join(self.recipe_folder, "include", "llmscale", "core", "version.hpp"))
        parts = [re.search(r"#define LLMSCALE_VERSION_%s (\d+)" % p, text).group(1)
                 for p in ("MAJOR", "MINOR", "PATCH")]
        self.version = ".".join(parts)

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        self.requires("eigen/3.4.0")
        self.requires("boost/1.84.0")

    def validate(self):
        check_min_cppstd(self, 17)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["LLMSCALE_BUILD_TESTS"] = False
        tc.cache_variables["LLMSCALE_BUILD_EXAMPLES"] = False
        tc.cache_variables["LLMSCALE_BUILD_BENCH"] = False
        tc.cache_variables["LLMSCALE_BUILD_TOOLS"] = False
        tc.cache_variables["LLMSCALE_INSTALL"] = True
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()

    def package(self):
        cmake = CMake(self)
        cmake.install()
        # Conan's CMakeDeps writes the consumer's config files from package_info().
        rmdir(self, os.path.join(self.package_folder, "share"))

    def package_id(self):
        self.info.clear()

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "llmscale")
        self.cpp_info.set_property("cmake_target_name", "llmscale::llmscale")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
        self.cpp_info.requires = ["eigen::eigen", "boost::headers"]
