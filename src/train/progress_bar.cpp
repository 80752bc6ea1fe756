// The Keras progress bar (tf.keras.utils.Progbar), line for line.
#include <chrono>
#include <cstdio>
#include <ostream>

#include "nabla/train.hpp"
#include "train/format.hpp"

namespace nabla::train {
namespace {

constexpr int kBarWidth = 30;
constexpr double kRedrawInterval = 0.05;  // seconds, as Keras's default

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int digits(int64_t value) {
  int count = 1;
  while (value >= 10) {
    value /= 10;
    ++count;
  }
  return count;
}

std::string format_eta(double seconds) {
  char buffer[64];
  const long long s = static_cast<long long>(seconds);
  if (seconds > 3600) {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", s / 3600, (s % 3600) / 60, s % 60);
  } else if (seconds > 60) {
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", s / 60, s % 60);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%llds", s);
  }
  return buffer;
}

void append_logs(std::string& line, const Logs& logs) {
  for (const auto& [name, value] : logs.items()) {
    line += " - ";
    line += name;
    line += ": ";
    line += format_value(value);
  }
}

}  // namespace

ProgressBar::ProgressBar(int64_t target, int verbose, std::ostream& out, bool dynamic)
    : target_(target), verbose_(verbose), out_(out), dynamic_(dynamic), start_ns_(now_ns()) {
  NABLA_CHECK(target >= -1, "ProgressBar: target must be >= 0, or -1 when unknown, got ", target);
  NABLA_CHECK(verbose >= 0 && verbose <= 2, "verbose must be 0, 1 or 2, got ", verbose);
}

double ProgressBar::seconds_since_start() const { return (now_ns() - start_ns_) * 1e-9; }

std::string ProgressBar::render(int64_t current, double elapsed, const Logs& logs,
                                bool final) const {
  char buffer[96];
  std::string wait;
  if (data_wait_ > kDataWaitShown) {
    std::snprintf(buffer, sizeof(buffer), " - data wait: %.0f%%", 100 * data_wait_);
    wait = buffer;
  }
  if (target_ < 0) {
    std::snprintf(buffer, sizeof(buffer), "%lld/Unknown - %.0fs", static_cast<long long>(current),
                  elapsed);
    std::string line = buffer;
    if (final && current > 0) {
      line += format_time_per_unit(elapsed / static_cast<double>(current), "step");
    }
    append_logs(line, logs);
    return line + wait;
  }
  const int width = digits(target_);
  std::snprintf(buffer, sizeof(buffer), "%*lld/%lld", width, static_cast<long long>(current),
                static_cast<long long>(target_));
  std::string line = buffer;
  const double per_step = current > 0 ? elapsed / static_cast<double>(current) : 0.0;
  std::snprintf(buffer, sizeof(buffer), " - %.0fs", elapsed);
  if (verbose_ == 2) {
    line += buffer;
    append_logs(line, logs);
    line += " -" + format_time_per_unit(elapsed, "epoch");
    line += " -" + format_time_per_unit(per_step, "step");
    return line + wait;
  }
  const int filled = target_ > 0 ? static_cast<int>(kBarWidth * current / target_) : kBarWidth;
  line += " [";
  if (filled > 0) {
    line.append(filled - 1, '=');
    line += current < target_ ? '>' : '=';
  }
  line.append(kBarWidth - filled, '.');
  line += ']';
  if (final) {
    line += buffer;
    line += format_time_per_unit(per_step, "step");
  } else {
    line += " - ETA: " + format_eta(per_step * static_cast<double>(target_ - current));
  }
  append_logs(line, logs);
  return line + wait;
}

void ProgressBar::update(int64_t current, const Logs& logs) {
  current_ = current;
  if (verbose_ != 1 || !dynamic_) return;  // other modes print once, in finish()
  const double now = seconds_since_start();
  if (last_draw_ >= 0 && now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  std::string line = render(current, now, logs, false);
  const size_t width = line.size();
  if (width < last_width_) line.append(last_width_ - width, ' ');
  last_width_ = width;
  out_ << '\r' << line << std::flush;
  line_open_ = true;
}

void ProgressBar::finish(const Logs& logs) {
  if (verbose_ == 0) return;
  std::string line = render(current_, seconds_since_start(), logs, true);
  if (dynamic_ && verbose_ == 1) {
    const size_t width = line.size();
    if (width < last_width_) line.append(last_width_ - width, ' ');
    out_ << '\r';
  }
  out_ << line << '\n' << std::flush;
  line_open_ = false;
}

void ProgressBar::abandon() {
  if (line_open_) out_ << '\n' << std::flush;
  line_open_ = false;
}

}  // namespace nabla::train
