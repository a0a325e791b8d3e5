#include "mapping/extract.h"

#include "mapping/text_only.h"

namespace moeckpt {

ExtractResult extract(const ExtractRequest& req, const Architecture& arch, const ArchRegistry& registry, const Json& config,
                      const std::vector<std::string>& names, std::string_view config_label) {
  ExtractResult r;
  r.arch = &arch;
  r.x.config = config;
  if (req.text_only) {
    const WrapperChoice w = find_wrapper(arch, registry, names, config_label);
    r.x = text_only(w, config, names, config_label);
    r.arch = w.text;
  }
  if (req.mtp) {
    const Extraction m = select_mtp(*req.mtp, *r.arch, &r.x.config, names_after(r.x, names), config_label);
    r.x = then(std::move(r.x), m, names);
  }
  return r;
}

}  // namespace moeckpt
