#include "loader/fault_registry.h"

#include <atomic>
#include <deque>
#include <mutex>

namespace moeckpt::fault {
namespace {

// Fixed slot tables: a handler cannot take locks or follow a growing container. A slot is free
// when its text is null. Registrations past the end are not recorded (the handler then says
// less, nothing worse).
constexpr size_t kSlots = 8192;

struct Mapping {
  std::atomic<const char*> label{nullptr};
  std::atomic<const char*> begin{nullptr};
  std::atomic<size_t> size{0};
};

Mapping g_mappings[kSlots];
std::atomic<const char*> g_temps[kSlots];

// Owns every string a slot ever pointed to, so a handler never reads freed memory. Strings are
// interned: a checkpoint's few hundred files and shards, not a growing stream.
std::mutex g_mu;
std::deque<std::string>& strings() {
  static std::deque<std::string> s;
  return s;
}

const char* intern(const std::string& s) {
  for (const auto& x : strings())
    if (x == s) return x.c_str();
  return strings().emplace_back(s).c_str();
}

}  // namespace

void add_mapping(const void* base, size_t size, const std::string& label) {
  if (base == nullptr || size == 0) return;
  std::lock_guard<std::mutex> lock(g_mu);
  const char* text = intern(label);
  for (auto& m : g_mappings) {
    if (m.label.load() != nullptr) continue;
    m.begin.store(static_cast<const char*>(base));
    m.size.store(size);
    m.label.store(text);
    return;
  }
}

void remove_mapping(const void* base) {
  if (base == nullptr) return;
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& m : g_mappings)
    if (m.label.load() != nullptr && m.begin.load() == base) {
      m.label.store(nullptr);
      return;
    }
}

void add_temporary(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  const char* text = intern(path);
  for (auto& t : g_temps) {
    const char* expected = nullptr;
    if (t.compare_exchange_strong(expected, text)) return;
  }
}

void remove_temporary(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (auto& t : g_temps) {
    const char* p = t.load();
    if (p != nullptr && path == p) {
      t.store(nullptr);
      return;
    }
  }
}

const char* mapping_label_at(const void* addr) {
  const char* a = static_cast<const char*>(addr);
  for (auto& m : g_mappings) {
    const char* label = m.label.load();
    if (label == nullptr) continue;
    const char* b = m.begin.load();
    if (a >= b && a < b + m.size.load()) return label;
  }
  return nullptr;
}

void for_each_temporary(void (*f)(const char* path)) {
  for (auto& t : g_temps)
    if (const char* p = t.load()) f(p);
}

}  // namespace moeckpt::fault
