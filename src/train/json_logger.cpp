// JSONLogger: the epoch's logs as JSON Lines, for scripts that follow a run (`nabla train --json`)
// or read it afterwards. One write() per line on a file opened with O_APPEND: a line is either
// there whole or not at all, however the process ends.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <ostream>

#include "data/file_util.hpp"
#include "nabla/train.hpp"

namespace nabla::train {
namespace {

void append_quoted(std::string& out, const std::string& text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  out += '"';
}

// The shortest text that reads back as the same double; JSON has no NaN or infinity: null.
void append_number(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out.append(buffer, result.ptr);
}

void append_count(std::string& out, const char* name, int64_t value) {
  out += out.size() > 1 ? ", \"" : "\"";
  out += name;
  out += "\": ";
  out += std::to_string(value);
}

std::string line_of(int64_t epoch, std::optional<std::pair<int64_t, int64_t>> batch_and_step,
                    const Logs& logs) {
  std::string line = "{";
  append_count(line, "epoch", epoch);
  if (batch_and_step) {
    append_count(line, "batch", batch_and_step->first);
    append_count(line, "step", batch_and_step->second);
  }
  for (const auto& [name, value] : logs.items()) {
    line += ", ";
    append_quoted(line, name);
    line += ": ";
    append_number(line, value);
  }
  return line + "}\n";
}

}  // namespace

JSONLogger::JSONLogger(std::string filename, JSONLoggerOptions options)
    : filename_(std::move(filename)), options_(options) {
  NABLA_CHECK(!filename_.empty(), "JSONLogger: expected a file name, got an empty one");
  NABLA_CHECK(options_.every_steps >= 0, "JSONLogger: every_steps must be >= 0, got ",
              options_.every_steps);
}

JSONLogger::JSONLogger(std::ostream& out, JSONLoggerOptions options)
    : stream_(&out), options_(options) {
  NABLA_CHECK(options_.every_steps >= 0, "JSONLogger: every_steps must be >= 0, got ",
              options_.every_steps);
}

JSONLogger::~JSONLogger() {
  if (file_ >= 0) ::close(file_);
}

void JSONLogger::on_train_begin() {
  epoch_ = 0;
  steps_done_ = 0;
  if (stream_ != nullptr) return;
  if (file_ >= 0) ::close(file_);
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (options_.append ? 0 : O_TRUNC);
  file_ = ::open(filename_.c_str(), flags, 0644);
  NABLA_CHECK(file_ >= 0, "JSONLogger: cannot open ", filename_,
              " for writing: ", data::internal::errno_message());
}

void JSONLogger::write_line(const std::string& line) {
  if (stream_ != nullptr) {
    *stream_ << line << std::flush;
    return;
  }
  ssize_t written = 0;
  do {
    written = ::write(file_, line.data(), line.size());
  } while (written < 0 && errno == EINTR);
  NABLA_CHECK(written == static_cast<ssize_t>(line.size()), "JSONLogger: cannot write to ",
              filename_, ": ", written < 0 ? data::internal::errno_message() : "a short write");
}

void JSONLogger::on_epoch_begin(int64_t epoch) { epoch_ = epoch; }

void JSONLogger::on_epoch_end(int64_t epoch, Logs& logs) {
  write_line(line_of(epoch, std::nullopt, logs));
}

void JSONLogger::on_batch_end(int64_t batch, const Logs& logs) {
  ++steps_done_;
  if (options_.every_steps == 0 || steps_done_ % options_.every_steps != 0) return;
  write_line(line_of(epoch_, std::make_pair(batch, steps_done_), logs));
}

void JSONLogger::restore_state(const std::map<std::string, double>& /*values*/,
                               const TrainingState& state) {
  epoch_ = state.epoch;
  steps_done_ = state.global_step;
  if (stream_ != nullptr || options_.append) return;
  std::string content;
  const History& history = state.history;
  for (size_t i = 0; i < history.epoch.size(); ++i) {
    Logs logs;
    for (const auto& [name, values] : history.history) {
      if (i < values.size()) logs.set(name, values[i]);
    }
    content += line_of(history.epoch[i], std::nullopt, logs);
  }
  // The killed run's lines after its checkpoint are dropped: the resumed run writes them again.
  NABLA_CHECK(::ftruncate(file_, 0) == 0, "JSONLogger: cannot rewrite ", filename_, ": ",
              data::internal::errno_message());
  if (!content.empty()) write_line(content);
}

}  // namespace nabla::train
