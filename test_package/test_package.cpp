#include <llmscale/llmscale.hpp>

#include <cstdio>

int main() {
  llmscale::GovernorConfig config;
  if (config.validate()) return 1;
  llmscale::Decision decision;
  decision.policy = "test_package";
  std::printf("llmscale %d.%d.%d: %s\n", LLMSCALE_VERSION_MAJOR, LLMSCALE_VERSION_MINOR,
              LLMSCALE_VERSION_PATCH, decision.to_json().c_str());
  return 0;
}
