#include "ocirelay/metrics/registry.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace ocirelay::metrics {

namespace {

std::string escape_label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest exact form
  return ec == std::errc{} ? std::string(buf, end) : std::string("NaN");
}

std::string with_label(const std::string& rendered, const std::string& extra) {
  if (rendered.empty()) return "{" + extra + "}";
  return rendered.substr(0, rendered.size() - 1) + "," + extra + "}";
}

}  // namespace

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ",";
    out += labels[i].first + "=\"" + escape_label_value(labels[i].second) + "\"";
  }
  return out + "}";
}

Histogram::Histogram(std::vector<double> upper_bounds)
    : bounds_(std::move(upper_bounds)),
      counts_(new std::atomic<std::uint64_t>[bounds_.size() + 1]) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) noexcept {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<std::uint64_t> Histogram::cumulative() const {
  std::vector<std::uint64_t> out(bounds_.size() + 1);
  std::uint64_t running = 0;
  for (std::size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    out[i] = running;
  }
  return out;
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  } else if (it->second.type != type) {
    throw std::logic_error("metric " + name + " registered with two types");
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help,
                           const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::counter).counters[render_labels(labels)];
  if (!slot) slot = std::make_unique<Counter>();
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::gauge).gauges[render_labels(labels)];
  if (!slot) slot = std::make_unique<Gauge>();
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help,
                               const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& slot = family(name, help, Type::histogram).histograms[render_labels(labels)];
  if (!slot) slot = std::make_unique<Histogram>(bounds);
  return *slot;
}

std::string Registry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, fam] : families_) {
    out += "# HELP " + name + " " + escape_help(fam.help) + "\n";
    switch (fam.type) {
      case Type::counter:
        out += "# TYPE " + name + " counter\n";
        for (const auto& [labels, c] : fam.counters) {
          out += name + labels + " " + std::to_string(c->value()) + "\n";
        }
        break;
      case Type::gauge:
        out += "# TYPE " + name + " gauge\n";
        for (const auto& [labels, g] : fam.gauges) {
          out += name + labels + " " + format_value(g->value()) + "\n";
        }
        break;
      case Type::histogram:
        out += "# TYPE " + name + " histogram\n";
        for (const auto& [labels, h] : fam.histograms) {
          auto counts = h->cumulative();
          for (std::size_t i = 0; i < h->bounds().size(); ++i) {
            out += name + "_bucket" +
                   with_label(labels, "le=\"" + format_value(h->bounds()[i]) + "\"") + " " +
                   std::to_string(counts[i]) + "\n";
          }
          out += name + "_bucket" + with_label(labels, "le=\"+Inf\"") + " " +
                 std::to_string(counts.back()) + "\n";
          out += name + "_sum" + labels + " " + format_value(h->sum()) + "\n";
          out += name + "_count" + labels + " " + std::to_string(counts.back()) + "\n";
        }
        break;
    }
  }
  return out;
}

}  // namespace ocirelay::metrics
