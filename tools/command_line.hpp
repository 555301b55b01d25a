// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The tools' command lines, read by CLI11 (a build dependency of the tools only: the library
// gains none). A tool declares its options here and keeps its own usage text and its own typed
// reads, which name the option, the value and the allowed range:
//
//   llmscale_tools::CommandLine cl("llmscale-size");
//   cl.flag("--json", json).value("--tp", [&](const std::string& v) { tp = whole("--tp", v, 1, 64); });
//   if (const std::string problem = cl.parse(args); !problem.empty()) -> usage error, exit 2
//
// Every option takes `--name VALUE` or `--name=VALUE` (`--name=` is an empty value); a value may
// start with '-' (`--set pid.kp=-1`, `--rate-scale -1` is refused by the range check, not taken
// for an option). A switch takes no value (`--json=0` is refused). A declared option's function
// is called once per occurrence, after the whole line is read: an option's occurrences in the
// order given, the options in the order declared. So the tool decides what a repeat means (the
// last wins, each adds, or "given twice"). A switch declared with stop() (-h/--help, --version)
// answers alone: given anywhere, nothing else on the line is read or checked.
#ifndef LLMSCALE_TOOLS_COMMAND_LINE_HPP
#define LLMSCALE_TOOLS_COMMAND_LINE_HPP

#include <CLI/CLI.hpp>
#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace llmscale_tools {

class CommandLine {
 public:
  explicit CommandLine(std::string program) : app_(std::string{}, std::move(program)) {
    app_.set_help_flag();     // each tool prints its own usage for -h/--help (declared as a flag)
    app_.allow_extras(true);  // an unknown option or a stray argument is reported in parse()'s words
    // every occurrence reaches the option's function; the tool decides what a repeat means
    app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  CommandLine(const CommandLine&) = delete;
  CommandLine& operator=(const CommandLine&) = delete;

  /// `--name VALUE` (or `--name=VALUE`; `names` may list aliases, "-h,--help"): `take(VALUE)`
  /// for each occurrence, in order. What `take` throws leaves parse() unchanged.
  CommandLine& value(const std::string& names, std::function<void(const std::string&)> take) {
    app_.add_option(names)->expected(1)->type_name("VALUE")->each(std::move(take));
    add_names(names, valued_);
    return *this;
  }
  /// `--name`, a switch without a value: `on` becomes true.
  CommandLine& flag(const std::string& names, bool& on) {
    app_.add_flag(names, on)->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)->disable_flag_override();
    add_names(names, switches_);
    return *this;
  }
  /// A switch that answers alone (`-h,--help`, `--version`): given anywhere, `on` becomes true
  /// and parse() reads nothing else (no function is called, no problem reported).
  CommandLine& stop(const std::string& names, bool& on) {
    stops_.emplace_back(std::set<std::string>{}, &on);
    add_names(names, stops_.back().first);
    add_names(names, switches_);
    return *this;
  }

  /// Reads `args` (without the program's name). "" when they are well formed, else the first
  /// problem: "unknown option '--x'", "unexpected argument 'x'", "--x needs a value".
  [[nodiscard]] std::string parse(std::vector<std::string> args) {
    for (auto& [names, on] : stops_) {
      *on = std::any_of(args.begin(), args.end(), [&](const std::string& a) { return names.count(a) != 0; });
      if (*on) return {};
    }
    std::vector<std::string> words;  // `--name=` split into `--name` and an empty value
    for (std::string& a : args) {
      const std::size_t eq = a.rfind("--", 0) == 0 ? a.find('=') : std::string::npos;
      if (eq != std::string::npos && switches_.count(a.substr(0, eq)) != 0) return a.substr(0, eq) + " takes no value";
      if (eq != std::string::npos && eq + 1 == a.size() && valued_.count(a.substr(0, eq)) != 0) {
        words.push_back(a.substr(0, eq));
        words.emplace_back();
      } else {
        words.push_back(std::move(a));
      }
    }
    args = std::move(words);
    std::reverse(args.begin(), args.end());  // CLI11 reads the arguments from the back
    try {
      app_.parse(args);
    } catch (const CLI::ArgumentMismatch& e) {
      // CLI11 says "--x: 1 required VALUE missing" of an option last on the line
      const std::string what = e.what();
      const std::size_t at = what.find(": 1 required VALUE missing");
      return at == std::string::npos ? what : what.substr(0, at) + " needs a value";
    } catch (const CLI::ParseError& e) {
      return e.what();
    }
    const std::vector<std::string> extra = app_.remaining();
    if (extra.empty()) return {};
    const std::string& first = extra.front();
    if (first.rfind("--", 0) == 0 && first.size() > 2) return "unknown option '" + first.substr(0, first.find('=')) + "'";
    return "unexpected argument '" + first + "'";
  }
  /// parse() over main's argc and argv.
  [[nodiscard]] std::string parse(int argc, char** argv) {
    return parse(argc > 1 ? std::vector<std::string>(argv + 1, argv + argc) : std::vector<std::string>{});
  }

 private:
  static void add_names(const std::string& names, std::set<std::string>& into) {
    for (std::size_t at = 0; at <= names.size();) {
      const std::size_t comma = std::min(names.find(',', at), names.size());
      into.insert(names.substr(at, comma - at));
      at = comma + 1;
    }
  }

  CLI::App app_;
  std::set<std::string> valued_, switches_;  // the declared names, for the `=` forms
  std::vector<std::pair<std::set<std::string>, bool*>> stops_;
};

}  // namespace llmscale_tools

#endif  // LLMSCALE_TOOLS_COMMAND_LINE_HPP
