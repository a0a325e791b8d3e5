// The part of a model convert keeps (--text-only, --drop-mtp, --only-mtp), as one extraction:
// the language model of a multimodal checkpoint first (mapping/text_only.h), then its MTP layers
// dropped or kept alone (mapping/mtp_select.h) on the names and config that step leaves.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/config_file.h"
#include "mapping/arch_registry.h"
#include "mapping/extraction.h"
#include "mapping/mtp_select.h"

namespace moeckpt {

struct ExtractRequest {
  bool text_only = false;
  std::optional<MtpMode> mtp;
  bool any() const { return text_only || mtp.has_value(); }
};

struct ExtractResult {
  Extraction x;
  const Architecture* arch = nullptr;  // the output's architecture (the text entry after --text-only)
};

// arch: the input's architecture; names: the input tensors'. Throws what find_wrapper,
// text_only and select_mtp throw.
ExtractResult extract(const ExtractRequest& req, const Architecture& arch, const ArchRegistry& registry, const Json& config,
                      const std::vector<std::string>& names, std::string_view config_label);

}  // namespace moeckpt
