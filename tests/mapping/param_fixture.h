// A registry entry's fixture opened for in-process planning, and the predicates the parameter
// model's twin tests ask of a plan (tests/mapping/param_model_*_test.cpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "loader/checkpoint.h"
#include "mapping/arch_registry.h"
#include "mapping/planner.h"
#include "test_util.h"

namespace moeckpt::testing {

struct ParamFixture {
  const Architecture* arch = nullptr;
  Json config;
  std::vector<TensorInfo> tensors;  // viewing ck's names
  std::shared_ptr<const Checkpoint> ck;
};

// Entry `entry` with the checkpoint in `dir` (default: the entry's own fixture).
inline ParamFixture load_fixture(const std::string& entry, const std::string& dir = {}) {
  ParamFixture f;
  f.arch = ArchRegistry::get().find(entry);
  EXPECT_NE(f.arch, nullptr) << entry;
  if (!f.arch) return f;
  f.ck = std::make_shared<const Checkpoint>(Checkpoint::open(source_dir(dir.empty() ? f.arch->fixture : dir)));
  const Checkpoint& ck = *f.ck;
  EXPECT_TRUE(ck.config()) << entry;
  if (ck.config()) f.config = *ck.config();
  f.tensors.assign(ck.tensors().begin(), ck.tensors().end());
  return f;
}

inline MapPlan plan(const ParamFixture& f, const Json& config, const std::vector<TensorInfo>& tensors) {
  return plan_mapping(*f.arch, &config, tensors);
}
inline MapPlan plan(const ParamFixture& f, const Json& config) { return plan(f, config, f.tensors); }
inline MapPlan plan(const ParamFixture& f) { return plan(f, f.config, f.tensors); }

// The plan's entry for checkpoint name `checkpoint`, or null.
inline const PlanEntry* entry(const MapPlan& p, const std::string& checkpoint) {
  for (const auto& e : p.entries)
    if (e.checkpoint == checkpoint) return &e;
  return nullptr;
}

inline bool clean(const MapPlan& p) { return p.param_model && p.unfilled.empty() && p.unexpected.empty() && p.param_findings.empty(); }
inline bool unfilled(const MapPlan& p, const std::string& tensor) {
  return std::any_of(p.unfilled.begin(), p.unfilled.end(), [&](const UnfilledEntry& u) { return u.expected == tensor; });
}
inline bool finding(const MapPlan& p, const std::string& code, const std::string& tensor) {
  return std::any_of(p.param_findings.begin(), p.param_findings.end(),
                     [&](const ParamFinding& x) { return x.code == code && x.tensor == tensor; });
}
inline bool unexpected(const MapPlan& p, const std::string& tensor) {
  return std::find(p.unexpected.begin(), p.unexpected.end(), tensor) != p.unexpected.end();
}

}  // namespace moeckpt::testing
