// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The tools' command line (tools/command_line.hpp): the forms each option takes, what a
// repeat calls, and the problems parse() names, against hand-written lines.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "command_line.hpp"

namespace {
struct Line {
  llmscale_tools::CommandLine cl{"test"};
  std::vector<std::string> files;
  bool json = false, help = false, version = false;
  Line() {
    cl.stop("-h,--help", help).stop("--version", version).flag("--json", json);
    cl.value("--file", [this](const std::string& v) { files.push_back(v); });
  }
};
}  // namespace

TEST_CASE("command line: --name VALUE and --name=VALUE, each occurrence in order, a switch") {
  Line l;
  CHECK(l.cl.parse({"--file", "a", "--json", "--file=b", "--file", "-1"}).empty());
  CHECK(l.files == std::vector<std::string>{"a", "b", "-1"});  // a value may start with '-'
  CHECK(l.json);
  CHECK_FALSE(l.help);
}

TEST_CASE("command line: --name= is an empty value, not a call for the next word") {
  Line l;
  CHECK(l.cl.parse({"--file=", "--json"}).empty());
  CHECK(l.files == std::vector<std::string>{""});
  CHECK(l.json);
}

TEST_CASE("command line: a switch refuses a value, the problems name the option or the word") {
  CHECK(Line().cl.parse({"--json=0"}) == "--json takes no value");
  CHECK(Line().cl.parse({"--json=false"}) == "--json takes no value");
  CHECK(Line().cl.parse({"--json", "--file"}) == "--file needs a value");
  CHECK(Line().cl.parse({"--files", "a"}) == "unknown option '--files'");
  CHECK(Line().cl.parse({"--files=a"}) == "unknown option '--files'");
  CHECK(Line().cl.parse({"a"}) == "unexpected argument 'a'");
}

TEST_CASE("command line: --help and --version answer alone, wherever they are") {
  Line l;
  CHECK(l.cl.parse({"--file", "--nonsense", "stray", "--help"}).empty());
  CHECK(l.help);
  CHECK(l.files.empty());  // nothing else was read
  Line v;
  CHECK(v.cl.parse({"--json=1", "--version"}).empty());
  CHECK(v.version);
  CHECK_FALSE(v.help);
}

TEST_CASE("command line: main's argc and argv, an empty one included") {
  char program[] = "test";
  char file[] = "--file";
  char value[] = "x";
  char* argv[] = {program, file, value, nullptr};
  Line l;
  CHECK(l.cl.parse(3, argv).empty());
  CHECK(l.files == std::vector<std::string>{"x"});
  Line only;
  CHECK(only.cl.parse(1, argv).empty());
  char* none[] = {nullptr};
  Line empty;
  CHECK(empty.cl.parse(0, none).empty());  // argc 0 is allowed by the standard: no arguments
  CHECK(empty.files.empty());
}
