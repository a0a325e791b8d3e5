// validate's structural findings: the faults the loader collected (OpenOptions::collect_problems)
// as coded findings, and the index against the shards beside it.
#pragma once

#include <string>

#include "loader/checkpoint.h"
#include "loader/error.h"
#include "loader/finding.h"

namespace moeckpt {

// The finding code for a loader error: one code per kind of structural fault
// (moeckpt-validate(1)), E-FILE-UNREADABLE for the rest.
std::string finding_code_for(Errc code);

// W-INDEX-TOTAL-SIZE, W-INDEX-ORPHAN-SHARD, W-INDEX-UNLISTED.
void index_findings(const Checkpoint& ck, Findings& f);

// Both, in that order.
void structure_findings(const Checkpoint& ck, Findings& f);

}  // namespace moeckpt
