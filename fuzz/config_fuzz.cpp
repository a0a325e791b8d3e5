// config.json contents through everything that reads a config: parsing, the alias view of
// every architecture, the config checks, MoE-layer rules and DeepSeek V4's expert_dtype.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "loader/config_file.h"
#include "loader/error.h"
#include "mapping/arch_registry.h"
#include "mapping/config_checks.h"
#include "mapping/config_view.h"
#include "mapping/dsv4_rule.h"
#include "mapping/moe_layers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace moeckpt;
  Json cfg;
  try {
    cfg = parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const Error&) {
    return 0;
  }
  const ArchRegistry& reg = ArchRegistry::get();
  const Architecture* detected = reg.detect(cfg);
  for (const auto& a : reg.all()) {
    if (&a != detected && (size & 7) != 0) continue;  // every arch now and then, the detected one always
    std::vector<std::vector<std::string>> aliases(a.aliases.begin(), a.aliases.end());
    ConfigView v(cfg, aliases, a.config_section);
    try {
      int64_t layers = v.get(ConfigField::kNumLayers) ? v.get(ConfigField::kNumLayers)->value : 4;
      resolve_moe_layers(a.moe_layers, v, layers > 4096 ? 4096 : layers, "fuzz");
    } catch (const Error&) {
    }
    try {
      resolve_expert_dtype(cfg, "fuzz");
    } catch (const Error&) {
    }
    check_config(cfg, "fuzz", &a, true, ParallelOptions{2, 4});
  }
  check_config(cfg, "fuzz", nullptr, true, ParallelOptions{});
  return 0;
}
