// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// Argument checks for the model functions: a failed check throws std::invalid_argument naming
// the function, the argument, its value and the allowed range.
#ifndef LLMSCALE_MODEL_DETAIL_CHECK_HPP
#define LLMSCALE_MODEL_DETAIL_CHECK_HPP

#include <cmath>
#include <stdexcept>
#include <string>

#include "llmscale/core/abi.hpp"
#include "llmscale/core/config.hpp"

LLMSCALE_NAMESPACE_BEGIN
namespace detail {

/// Throws unless `ok`: "<where>: <name> = <value> is out of range; allowed: <allowed>".
inline void check_arg(bool ok, const char* where, const char* name, double value, const char* allowed) {
  if (!ok) {
    throw std::invalid_argument(std::string(where) + ": " + name + " = " + format_number(value) +
                                " is out of range; allowed: " + allowed);
  }
}

/// A finite value >= 0.
inline void check_non_negative(const char* where, const char* name, double v) {
  check_arg(std::isfinite(v) && v >= 0.0, where, name, v, "[0, inf)");
}

/// A finite value > 0.
inline void check_positive(const char* where, const char* name, double v) {
  check_arg(std::isfinite(v) && v > 0.0, where, name, v, "(0, inf)");
}

/// A probability strictly between 0 and 1.
inline void check_quantile(const char* where, const char* name, double q) {
  check_arg(q > 0.0 && q < 1.0, where, name, q, "(0, 1)");
}

}  // namespace detail
LLMSCALE_NAMESPACE_END

#endif  // LLMSCALE_MODEL_DETAIL_CHECK_HPP
