// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The ABI-tagged inline namespace. Every public name lives in `llmscale::` and, inside it, in
// an inline namespace named after the version (`llmscale::abi_v0_1_0::`), so two translation
// units that were built against different llmscale versions cannot be linked together
// silently (an ODR violation becomes a link error). User code always spells `llmscale::`.
#ifndef LLMSCALE_CORE_ABI_HPP
#define LLMSCALE_CORE_ABI_HPP

#include "llmscale/core/version.hpp"

#define LLMSCALE_ABI_CONCAT_EX_(major, minor, patch) abi_v##major##_##minor##_##patch
#define LLMSCALE_ABI_CONCAT_(major, minor, patch) LLMSCALE_ABI_CONCAT_EX_(major, minor, patch)
#define LLMSCALE_ABI_TAG \
  LLMSCALE_ABI_CONCAT_(LLMSCALE_VERSION_MAJOR, LLMSCALE_VERSION_MINOR, LLMSCALE_VERSION_PATCH)

#define LLMSCALE_NAMESPACE_BEGIN \
  namespace llmscale {           \
  inline namespace LLMSCALE_ABI_TAG {
#define LLMSCALE_NAMESPACE_END \
  }                            \
  }

#endif  // LLMSCALE_CORE_ABI_HPP
