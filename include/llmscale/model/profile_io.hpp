// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Reading latency profiles from files (the model and its fit are model/latency_profile.hpp):
//   - read_splitwise_csv: a Splitwise-format table (header names the columns: model, hardware,
//     tensor_parallel, prompt_size, batch_size, token_size, prompt_time, token_time); the rows of
//     one model, hardware and tensor parallelism are fitted by fit_latency_profile (model/profile_fit.hpp);
//   - read_distserve_json: DistServe's fitted coefficients for one model and tensor parallelism;
//   - load_latency_profile: either, by the file's first non-blank character ('{': JSON).
// Errors throw ProfileError with the line at fault (0: the file as a whole).
#ifndef LLMSCALE_MODEL_PROFILE_IO_HPP
#define LLMSCALE_MODEL_PROFILE_IO_HPP

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <istream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/number.hpp"
#include "llmscale/model/detail/json.hpp"
#include "llmscale/model/latency_profile.hpp"
#include "llmscale/model/profile_fit.hpp"

LLMSCALE_NAMESPACE_BEGIN

/// Fits a Splitwise-format table (header names the columns) for one model, hardware and
/// tensor parallelism. Throws ProfileError with the line of a malformed row, or line 0 when
/// nothing matches or too few points remain to fit.
inline LatencyProfile read_splitwise_csv(std::istream& in, const std::string& model, const std::string& hardware,
                                         int tensor_parallel);
/// DistServe's coefficient file for one model and tensor parallelism.
inline LatencyProfile read_distserve_json(std::istream& in, const std::string& model, int tensor_parallel);
/// Either format by the file's first non-blank character ('{': DistServe JSON, else CSV).
inline LatencyProfile load_latency_profile(const std::string& path, const std::string& model,
                                           const std::string& hardware, int tensor_parallel);

// ---------------------------------------------------------------------------------------------
// Implementation.

namespace detail {

inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  for (char c : line) {
    if (c == ',') {
      out.push_back(field);
      field.clear();
    } else if (c != '\r') {
      field.push_back(c);
    }
  }
  out.push_back(field);
  return out;
}

inline double parse_csv_number(const std::string& s, const char* column, int line) {
  double v = 0;
  if (!parse_number(s, v) || !std::isfinite(v)) {
    throw ProfileError(std::string("column ") + column + ": '" + s + "' is not a number", line);
  }
  return v;
}

}  // namespace detail

inline LatencyProfile read_splitwise_csv(std::istream& in, const std::string& model, const std::string& hardware,
                                         int tensor_parallel) {
  std::vector<ProfileTrial> trials;
  std::string line;
  int line_no = 0;
  std::vector<std::string> header;
  while (header.empty() && std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") != std::string::npos) header = detail::split_csv_line(line);
  }
  const auto column = [&](const char* name) -> std::size_t {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw ProfileError(std::string("the header has no column '") + name + "'", line_no);
    return static_cast<std::size_t>(it - header.begin());
  };
  const std::size_t c_model = column("model"), c_hw = column("hardware"), c_prompt = column("prompt_size"),
                    c_batch = column("batch_size"), c_tokens = column("token_size"),
                    c_prefill = column("prompt_time"), c_decode = column("token_time"),
                    c_tp = column("tensor_parallel");
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::vector<std::string> f = detail::split_csv_line(line);
    if (f.size() != header.size()) {
      throw ProfileError("expected " + std::to_string(header.size()) + " fields, found " + std::to_string(f.size()),
                         line_no);
    }
    const double tp = detail::parse_csv_number(f[c_tp], "tensor_parallel", line_no);
    const double prompt = detail::parse_csv_number(f[c_prompt], "prompt_size", line_no);
    const double batch = detail::parse_csv_number(f[c_batch], "batch_size", line_no);
    const double tokens = detail::parse_csv_number(f[c_tokens], "token_size", line_no);
    const double prefill = detail::parse_csv_number(f[c_prefill], "prompt_time", line_no);
    const double decode = detail::parse_csv_number(f[c_decode], "token_time", line_no);
    if (prompt < 1 || batch < 1 || tokens < 0 || prefill <= 0 || decode <= 0) {
      throw ProfileError("sizes must be positive and times above 0", line_no);
    }
    // a billion tokens or requests, a time of 10^7 ms (about 3 hours): past any measurement
    if (prompt > 1e9 || batch > 1e9 || tokens > 1e9 || prefill > 1e7 || decode > 1e7) {
      throw ProfileError("sizes at most 1e9 and times at most 1e7 ms (prompt_size, batch_size, token_size, "
                         "prompt_time, token_time)", line_no);
    }
    if (f[c_model] != model || f[c_hw] != hardware || tp != tensor_parallel) continue;
    trials.push_back(ProfileTrial{static_cast<long long>(prompt), static_cast<long long>(batch),
                                  static_cast<long long>(tokens), prefill, decode});
  }
  const std::string tp = std::to_string(tensor_parallel);
  return fit_latency_profile(trials, "model '" + model + "', hardware '" + hardware + "', tensor parallelism " + tp,
                                    "splitwise " + model + " " + hardware + " tp" + tp);
}

inline LatencyProfile read_distserve_json(std::istream& in, const std::string& model, int tensor_parallel) {
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  detail::JsonValue root;
  try {
    root = detail::JsonReader(text).parse();
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();  // "line N: ..."
    throw ProfileError(what.substr(what.find(": ") + 2), std::atoi(what.c_str() + 5));
  }
  const detail::JsonValue* m = root.find(model);
  if (m == nullptr) throw ProfileError("no model '" + model + "' in the coefficient file", 0);
  const detail::JsonValue* t = m->find(std::to_string(tensor_parallel));
  if (t == nullptr) {
    throw ProfileError("no tensor parallelism " + std::to_string(tensor_parallel) + " for model '" + model + "'", 0);
  }
  const auto triple = [&](const char* key) {
    const detail::JsonValue* v = t->find(key);
    if (v == nullptr || v->kind != detail::JsonValue::Kind::array || v->items.size() != 3) {
      throw ProfileError(std::string("'") + key + "' is not an array of 3 numbers", 0);
    }
    std::array<double, 3> out{};
    for (std::size_t i = 0; i < 3; ++i) {
      if (v->items[i].kind != detail::JsonValue::Kind::number) {
        throw ProfileError(std::string("'") + key + "' is not an array of 3 numbers", 0);
      }
      out[i] = v->items[i].number;
    }
    return out;
  };
  const auto pf = triple("prefill");
  const auto small = triple("decoding_smallbs");
  const auto large = triple("decoding_largebs");
  const detail::JsonValue* th = t->find("decoding_large_small_bs_threshold");
  if (th == nullptr || th->kind != detail::JsonValue::Kind::number || !(th->number >= 1) ||
      th->number > static_cast<double>(max_profile_threshold)) {
    throw ProfileError("model '" + model + "' tp " + std::to_string(tensor_parallel) +
                           ": 'decoding_large_small_bs_threshold' is not a number in [1, 1e9]",
                       0);
  }
  try {
    return LatencyProfile::from_coefficients(
        PrefillCoefficients{pf[0], pf[1], pf[2], PrefillCoefficients::Quadratic::sum_of_squares},
        DecodeCoefficients{small[0], small[1], small[2]}, DecodeCoefficients{large[0], large[1], large[2]},
        static_cast<long long>(th->number), {}, "distserve " + model + " tp" + std::to_string(tensor_parallel),
        /*allow_free_prefill=*/false);
  } catch (const std::invalid_argument& e) {
    // the file's own keys: prefill = [a, b, c], decoding_smallbs, decoding_largebs
    std::string what = e.what();
    for (const auto& [ours, theirs] : {std::pair<std::string, std::string>{"decode_small.", "decoding_smallbs."},
                                       {"decode_large.", "decoding_largebs."}}) {
      const auto at = what.find(ours);
      if (at != std::string::npos) what.replace(at, ours.size(), theirs);
    }
    throw ProfileError("model '" + model + "' tp " + std::to_string(tensor_parallel) + ": " + what, 0);
  }
}

inline LatencyProfile load_latency_profile(const std::string& path, const std::string& model,
                                           const std::string& hardware, int tensor_parallel) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ProfileError("cannot open '" + path + "'", 0);
  char first = 0;
  while (in.get(first) && std::isspace(static_cast<unsigned char>(first))) {
  }
  in.clear();
  in.seekg(0);
  return first == '{' ? read_distserve_json(in, model, tensor_parallel)
                      : read_splitwise_csv(in, model, hardware, tensor_parallel);
}

LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_PROFILE_IO_HPP
