// A progress bar on stderr (bytes, rate, ETA), drawn only when stderr is a terminal and the
// user did not ask for quiet. Thread-safe: workers add bytes, a ticker thread draws. It is the
// ProgressSink the shard writer reports to.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "loader/shard_writer.h"

namespace moeckpt::cli {

class Progress final : public ProgressSink {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  ~Progress() override;
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void start(const std::string& label, uint64_t total) override;  // starts drawing
  void add(uint64_t bytes) override { done_.fetch_add(bytes, std::memory_order_relaxed); }
  void finish() override;  // draws the last state and ends the line

 private:
  void draw(bool final);
  std::string label_;
  uint64_t total_ = 0;
  bool enabled_;
  bool started_ = false;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread ticker_;
};

}  // namespace moeckpt::cli
