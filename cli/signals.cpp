#include "cli/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstring>

#include "loader/error.h"
#include "loader/fault_registry.h"

namespace moeckpt::cli {
namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_interrupt(int) { g_interrupted.store(true); }

void put(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    ssize_t w = ::write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

// Only async-signal-safe calls: write, unlink, _exit.
extern "C" void on_sigbus(int, siginfo_t* info, void*) {
  const char* file = fault::mapping_label_at(info->si_addr);
  put("moeckpt: error: ");
  put(file ? file : "an input file");
  put(": shrank while being read (truncated by another process?); nothing was written from it\n");
  fault::for_each_temporary([](const char* path) { ::unlink(path); });
  ::_exit(kExitInput);
}

}  // namespace

void install_fault_handler() {
  struct sigaction sa {};
  sa.sa_sigaction = on_sigbus;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, nullptr);
}

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::signal(SIGXFSZ, SIG_IGN);
}

const std::atomic<bool>& interrupted() { return g_interrupted; }

}  // namespace moeckpt::cli
