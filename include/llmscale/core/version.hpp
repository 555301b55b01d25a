// llmscale: autoscaling policies for LLM inference serving.
// SPDX-License-Identifier: Apache-2.0
//
// The version, defined here and nowhere else: CMake, the Conan recipe and the package tests
// read it from this file.
#ifndef LLMSCALE_CORE_VERSION_HPP
#define LLMSCALE_CORE_VERSION_HPP

#define LLMSCALE_VERSION_MAJOR 0
#define LLMSCALE_VERSION_MINOR 1
#define LLMSCALE_VERSION_PATCH 0

/// The version as one integer, MAJOR * 10000 + MINOR * 100 + PATCH (for `#if` checks).
#define LLMSCALE_VERSION \
  (LLMSCALE_VERSION_MAJOR * 10000 + LLMSCALE_VERSION_MINOR * 100 + LLMSCALE_VERSION_PATCH)

#endif  // LLMSCALE_CORE_VERSION_HPP
