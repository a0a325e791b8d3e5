// convert --text-only: the language model of a multimodal checkpoint written as its text
// class's own checkpoint. The registry's composite entry (mapping/archs/README.md, "Composite
// entries") says it all: its towers are left out, its checkpoint_prefix turns the wrapper's
// names into the text entry's (model.language_model. -> model.), and config.json becomes the
// text sub-config with what the text model needs from the wrapper's (tie_word_embeddings,
// quantization_config, dtype) and the text entry's class and model_type.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loader/config_file.h"
#include "mapping/arch_registry.h"
#include "mapping/extraction.h"

namespace moeckpt {

struct WrapperChoice {
  const Architecture* wrapper = nullptr;  // the composite entry
  const Architecture* text = nullptr;     // its language-model entry
  bool config_is_text = false;            // config.json already the text model's (a relabelled release)
};

// The composite entry that wraps a checkpoint: arch itself when it is one, else a composite whose
// language model is arch and whose checkpoint prefixes some tensor name carries (a release
// relabelled as the text class but saved under the wrapper's names). Throws Error(kUsage)
// naming `label` when there is none: the checkpoint is not multimodal.
WrapperChoice find_wrapper(const Architecture& arch, const ArchRegistry& registry, const std::vector<std::string>& names,
                           std::string_view label);

// The renames, the left-out towers and the new config.json. Throws Error(kConfigInvalid) naming
// config_label when the text sub-config is missing or not an object.
Extraction text_only(const WrapperChoice& w, const Json& config, const std::vector<std::string>& names, std::string_view config_label);

// Files beside the weights that belong to the towers' input processing and do not apply to the
// text model (preprocessor_config.json, processor_config.json, video_preprocessor_config.json).
const std::vector<std::string>& tower_sidecar_files();

// quantization_config's module lists (ignore, modules_to_not_convert, exclude_modules) with the
// wrapper's prefixes renamed and the towers' entries removed.
Json rename_quant_ignores(const Json& quantization_config, const CompositeSpec& c);

}  // namespace moeckpt
