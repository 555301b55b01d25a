// A consumer's program: includes the umbrella header, uses the core types, checks the version.
#include <llmscale/llmscale.hpp>

#include <cstdio>
#include <cstring>

static_assert(LLMSCALE_VERSION_MAJOR == EXPECTED_MAJOR && LLMSCALE_VERSION_MINOR == EXPECTED_MINOR &&
                  LLMSCALE_VERSION_PATCH == EXPECTED_PATCH,
              "the package's version is not the version of the headers it installed");

int main() {
  llmscale::FleetState fleet(2);
  fleet.add_starting(1, llmscale::at_seconds(0));
  llmscale::Decision decision;
  decision.current_replicas = fleet.current();
  decision.desired_replicas = fleet.ready_by(llmscale::at_seconds(600), llmscale::from_seconds(300));
  decision.policy = "consumer";
  char line[256];
  decision.format_json_to(line, sizeof line);
  if (decision.desired_replicas != 3 || std::strstr(line, "\"desired\":3") == nullptr) {
    std::puts(line);
    return 1;
  }
  std::puts("consumer ok");
  return 0;
}
