#include "cli/progress.h"

#include <fmt/format.h>

#include <cstdio>

#include "cli/output.h"

namespace moeckpt::cli {

void Progress::start(const std::string& label, uint64_t total) {
  label_ = label;
  total_ = total;
  start_ = std::chrono::steady_clock::now();
  if (!enabled_ || started_) return;
  started_ = true;
  ticker_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop_; })) draw(false);
  });
}

Progress::~Progress() { finish(); }

void Progress::finish() {
  if (!enabled_ || !started_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
  draw(true);
}

void Progress::draw(bool final) {
  uint64_t done = done_.load(std::memory_order_relaxed);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  double frac = total_ ? static_cast<double>(done) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  const int width = 30;
  int filled = static_cast<int>(frac * width);
  std::string bar = std::string(static_cast<size_t>(filled), '#') + std::string(static_cast<size_t>(width - filled), ' ');
  std::string eta = "--:--";
  if (rate > 0 && done < total_) {
    auto s = static_cast<uint64_t>(static_cast<double>(total_ - done) / rate);
    eta = fmt::format("{}:{:02d}:{:02d}", s / 3600, (s / 60) % 60, s % 60);
  } else if (done >= total_) {
    eta = fmt::format("{:.1f}s", secs);
  }
  std::string line = fmt::format("\r{} [{}] {:>3.0f}% {} / {}  {}/s  {} ", label_, bar, frac * 100, human_bytes(done),
                                 human_bytes(total_), human_bytes(static_cast<uint64_t>(rate)), final ? eta : "ETA " + eta);
  if (final) line += "\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace moeckpt::cli
