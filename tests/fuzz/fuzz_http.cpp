// libFuzzer target: raw bytes as an HTTP request to the ingress endpoint.
//
// The bytes go through the real http::Server -- Beast's request parser with
// the limits and early answers the daemon uses (header and body limits, 413
// on Content-Length, Expect, precheck) -- into the real IngressHandler (auth,
// content type, ONS confirmation, parse_event, routes), over a Unix socket in
// a private temporary directory, so no TCP port is involved and the parse
// path is exactly the server's. Storage is a MemoryStore behind the real
// StorageWorker (no fsync per input). ONS auto-confirmation is off, so no
// input makes the relay connect anywhere.
//
// The configuration is the daemon's schema parsed from text in memory, with
// in-memory secret sources; the server limits are taken from it as the
// application does (app::server_limits(), ocirelay/app/server_limits.hpp).
//
// Per input the target writes the bytes, half-closes, and reads every
// response until the server closes. It then checks:
//  - the responses are well-formed HTTP, none is a 5xx (nothing here can
//    fail: the store is in memory and confirmation is off);
//  - as many events answered "queued" (a 202, or a batch's result) as the
//    store queued, as many answered "duplicate" as duplicates; every stored
//    body parses as an event with the ID it was stored under;
//  - neither the logs nor the responses contain the ingress password, the
//    bearer token or the Basic credentials, unless the input itself does;
//  - RFC 9112 framing, with the input's requests framed by an independent
//    Beast parser: a response to HEAD has no body (so the next response
//    parses); a request whose Transfer-Encoding is not exactly "chunked"
//    (or comes with Content-Length, or in HTTP/1.0), and an HTTP/1.1
//    request without exactly one Host, get 400 and nothing after them is
//    answered; an HTTP/1.0 request never gets "100 Continue".
//
// Single-threaded except the storage thread; the state is created once and
// deliberately never destroyed (its threads would outlive static teardown).

#include <unistd.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "memory_store.hpp"
#include "ocirelay/app/server_limits.hpp"
#include "ocirelay/config/loader.hpp"
#include "ocirelay/event/event.hpp"
#include "ocirelay/filter/route.hpp"
#include "ocirelay/http/server.hpp"
#include "ocirelay/ingress/ingress_handler.hpp"
#include "ocirelay/ingress/ons_confirmer.hpp"
#include "ocirelay/metrics/registry.hpp"
#include "ocirelay/metrics/relay_metrics.hpp"
#include "ocirelay/storage/storage_worker.hpp"

namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using local = asio::local::stream_protocol;
using namespace ocirelay;

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);

constexpr std::string_view kPassword = "change-me";  // of user "ons", as in the ONS fixture
constexpr std::string_view kBasicCredentials = "b25zOmNoYW5nZS1tZQ==";  // base64("ons:change-me")
constexpr std::string_view kBearerToken = "fuzz-bearer-0b7e1d";

// The daemon's schema; secrets come from the in-memory sources below.
constexpr std::string_view kConfig = R"(
server:
  listen: "127.0.0.1:0"
  auth:
    basic:
      - username: ons
        password: "${env:ONS_PASSWORD}"
    bearer_tokens: ["${file:/fuzz/bearer-token}"]
  ons:
    auto_confirm: false
storage:
  path: /nonexistent/fuzz.db
destinations:
  - name: oic-objects
    url: https://oic.example.com/ic/api/integration/v1/flows/rest/OBJ/1.0/event
  - name: oic-finance
    url: https://oic.example.com/ic/api/integration/v1/flows/rest/FIN/1.0/event
routes:
  - name: objects
    match:
      eventType: ["com.oraclecloud.objectstorage.*object"]
    destinations: [oic-objects]
  - name: finance
    compartment: ["finance"]
    bucket: ["invoices-*"]
    destinations: [oic-finance, oic-objects]
  - name: cloudevents
    event_types: ["com.example.*"]
    destinations: [oic-finance]
)";

[[noreturn]] void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz_http: invariant violated: %s\n", what.c_str());
  std::abort();
}

[[noreturn]] void setup_failed(const std::string& what) {
  std::fprintf(stderr, "fuzz_http: setup failed: %s\n", what.c_str());
  std::abort();
}

config::Config load_config() {
  config::SecretSources secrets;
  secrets.env = [](const std::string& name) -> std::optional<std::string> {
    if (name == "ONS_PASSWORD") return std::string(kPassword);
    return std::nullopt;
  };
  secrets.file = [](const std::string& path) -> std::optional<std::string> {
    if (path == "/fuzz/bearer-token") return std::string(kBearerToken) + "\n";
    return std::nullopt;
  };
  auto parsed = config::parse_config(kConfig, "fuzz.yaml", secrets);
  if (!parsed) {
    std::string all;
    for (const auto& e : parsed.error()) all += e.to_string() + "\n";
    setup_failed("configuration: " + all);
  }
  return std::move(parsed).value();
}

struct State {
  asio::io_context io{1};
  std::ostringstream log_text;
  std::shared_ptr<spdlog::logger> log;
  config::Config config = load_config();
  std::unique_ptr<filter::Router> router;
  metrics::Registry registry;
  std::unique_ptr<metrics::RelayMetrics> metrics;
  fuzz::MemoryStore* store = nullptr;  // owned by the worker
  std::unique_ptr<storage::StorageWorker> worker;
  std::unique_ptr<ingress::OnsConfirmer> confirmer;
  std::unique_ptr<ingress::IngressHandler> handler;
  std::string socket_dir;
  std::unique_ptr<http::Server> server;
  local::endpoint endpoint;
  http::ServerOptions limits;

  State() {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(log_text);
    log = std::make_shared<spdlog::logger>("fuzz", sink);
    log->set_level(spdlog::level::trace);

    std::vector<filter::Route> routes;
    for (const auto& r : config.routes) routes.emplace_back(r);
    router = std::make_unique<filter::Router>(std::move(routes));
    metrics = std::make_unique<metrics::RelayMetrics>(registry, "fuzz");

    auto owned = std::make_unique<fuzz::MemoryStore>();
    store = owned.get();
    auto quiet = std::make_shared<spdlog::logger>("storage",
                                                  std::make_shared<spdlog::sinks::null_sink_mt>());
    worker = std::make_unique<storage::StorageWorker>(std::move(owned), quiet, metrics.get());

    auto made = ingress::OnsConfirmer::create(io.get_executor(), config.server.ons, log);
    if (!made) setup_failed("ONS confirmer: " + made.error());
    confirmer = std::move(made).value();

    handler = std::make_unique<ingress::IngressHandler>(ingress::IngressContext{
        config, *router, *worker, *confirmer, *metrics, [](const std::vector<std::string>&) {},
        [] { return false; }, [](const std::string&) { return std::string("healthy"); }, log});

    char dir_template[] = "/tmp/ocirelay-fuzz-http-XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) setup_failed("mkdtemp");
    socket_dir = dir_template;

    // The daemon's own limits.
    http::ServerOptions so = app::server_limits(config);
    limits = so;
    so.unix_path = socket_dir + "/ingress.sock";
    so.server_name = "ocirelay/fuzz";
    auto created = http::Server::create(io.get_executor(), so, *handler, log);
    if (!created) setup_failed("server: " + created.error());
    server = std::move(created).value();
    server->start();
    endpoint = local::endpoint(so.unix_path);
  }
};

State* state = nullptr;  // never destroyed; see the header comment

void remove_socket_dir() {
  if (state != nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(state->socket_dir, ec);
  }
}

// Runs the io_context until `done` holds.
template <class Pred>
void run_until(Pred done) {
  while (!done()) {
    state->io.run_one();
  }
}

struct Exchange {
  std::string received;
  bool read_clean = false;  // ended by EOF, not by an error
  bool wrote = false;
  bool read = false;
};

asio::awaitable<void> write_all(local::socket& socket, std::string_view bytes, Exchange& x) {
  // An error is expected when the server answers early and closes.
  [[maybe_unused]] auto [ec, n] =
      co_await asio::async_write(socket, asio::buffer(bytes.data(), bytes.size()), nothrow);
  boost::system::error_code ignored;
  socket.shutdown(local::socket::shutdown_send, ignored);
  x.wrote = true;
}

asio::awaitable<void> read_all(local::socket& socket, Exchange& x) {
  char chunk[16 * 1024];
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(chunk), nothrow);
    x.received.append(chunk, n);
    if (ec) {
      x.read_clean = ec == asio::error::eof;
      break;
    }
  }
  x.read = true;
}

// A request of the input as a parser of our own frames it, with the facts
// the framing properties need. Deliberately not the server's own check
// (http/request_framing.hpp): the rules are written again here, plainly.
struct SentRequest {
  bool head = false;
  unsigned version = 11;
  bool bad_framing = false;  // must get 400, and be the last request answered
};

std::string lower_trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The input's requests, in order, up to the first one the server answers
// and closes on for sure: a header that does not parse, or bad framing.
std::vector<SentRequest> frame_requests(std::string_view input) {
  std::vector<SentRequest> out;
  std::size_t used = 0;
  while (used < input.size()) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(state->limits.max_header_bytes));
    parser.body_limit(state->limits.max_body_bytes);
    // The header alone first (not eager), as the server reads it: a body
    // that does not parse comes after the header's answer.
    parser.eager(false);
    boost::system::error_code ec;
    std::size_t n = parser.put(asio::buffer(input.data() + used, input.size() - used), ec);
    if (ec == bhttp::error::need_more) ec = {};
    if (ec || !parser.is_header_done()) break;
    parser.eager(true);
    const auto& h = parser.get();
    SentRequest r;
    r.head = h.method() == bhttp::verb::head;
    r.version = h.version();
    const auto hosts = h.count(bhttp::field::host);
    const auto te = h.count(bhttp::field::transfer_encoding);
    bool plain_chunked = te == 1 && lower_trimmed(h[bhttp::field::transfer_encoding]) == "chunked";
    r.bad_framing = (r.version >= 11 && hosts != 1) || hosts > 1 ||
                    (te > 0 && (!plain_chunked || r.version < 11 ||
                                h.count(bhttp::field::content_length) > 0));
    out.push_back(r);
    if (r.bad_framing) break;
    // The rest of this request (its body), then the next one.
    while (!ec && !parser.is_done() && used + n < input.size()) {
      used += n;
      n = parser.put(asio::buffer(input.data() + used, input.size() - used), ec);
      if (ec == bhttp::error::need_more) ec = {};
      if (n == 0) break;
    }
    if (ec || !parser.is_done()) break;
    used += n;
  }
  return out;
}

struct Answer {
  int status = 0;
  std::string body;
  bool continued = false;  // a 100 Continue came before it
};

// Parses the final responses the server sent, one after the other, a 1xx
// recorded on the response that follows it. A response to HEAD has no body:
// the request it answers is known from `sent` (same order; past its end,
// the method is unknown and the response is read as a GET's).
std::vector<Answer> parse_responses(const std::string& bytes, const std::vector<SentRequest>& sent) {
  std::vector<Answer> out;
  std::size_t used = 0;
  bool continued = false;
  while (used < bytes.size()) {
    bhttp::response_parser<bhttp::string_body> parser;
    parser.eager(true);
    parser.body_limit(64 * 1024 * 1024);
    if (out.size() < sent.size() && sent[out.size()].head) parser.skip(true);
    boost::system::error_code ec;
    const std::size_t n = parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec || !parser.is_done()) {
      violated("malformed or truncated response at byte " + std::to_string(used) + ": " +
               (ec ? ec.message() : std::string("incomplete")) + "\n" + bytes.substr(used, 512));
    }
    used += n;
    const int status = static_cast<int>(parser.get().result_int());
    if (status >= 100 && status < 200) {
      continued = true;
      continue;
    }
    out.push_back({status, parser.get().body(), continued});
    continued = false;
  }
  return out;
}

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string_view::npos;
       at = haystack.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

void check_secret(std::string_view where, const std::string& text, std::string_view secret,
                  const char* name) {
  if (text.find(secret) != std::string::npos) {
    violated(std::string(name) + " appears in the " + std::string(where));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  state = new State();
  std::atexit(remove_socket_dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  state->log_text.str({});

  local::socket socket(state->io);
  boost::system::error_code ec;
  socket.connect(state->endpoint, ec);
  if (ec) violated("cannot connect to the server: " + ec.message());
  Exchange x;
  asio::co_spawn(state->io, write_all(socket, input, x), asio::detached);
  asio::co_spawn(state->io, read_all(socket, x), asio::detached);
  run_until([&] { return x.wrote && x.read; });
  socket.close(ec);

  std::vector<fuzz::MemoryStore::Inserted> inserted;
  bool taken = false;
  state->worker->async_call<std::vector<fuzz::MemoryStore::Inserted>>(
      asio::bind_executor(state->io,
                          [&](storage::StoreResult<std::vector<fuzz::MemoryStore::Inserted>> r) {
                            if (r) inserted = std::move(r).value();
                            taken = true;
                          }),
      [store = state->store](storage::Store&) {
        return storage::StoreResult<std::vector<fuzz::MemoryStore::Inserted>>(
            store->take_inserted());
      });
  run_until([&] { return taken; });

  std::size_t queued = 0;
  std::size_t duplicates = 0;
  for (const auto& i : inserted) {
    auto ev = event::parse_event(i.event.body);
    if (!ev) violated("stored a body that is not a valid event: " + ev.error());
    if (ev.value().event_id() != i.event.event_id) violated("stored under another event ID");
    if (i.event.destinations.empty()) violated("stored an event without destinations");
    (i.outcome == storage::InsertOutcome::queued ? queued : duplicates)++;
  }

  // Only when the whole exchange completed: a server that answers early and
  // closes may reset the connection before every response byte arrives.
  if (x.read_clean) {
    std::size_t accepted = 0;           // events answered "queued"
    std::size_t duplicate_answers = 0;  // events answered "duplicate"
    const auto sent = frame_requests(input);
    const auto answers = parse_responses(x.received, sent);
    for (std::size_t i = 0; i < answers.size() && i < sent.size(); ++i) {
      if (sent[i].bad_framing) {
        if (answers[i].status != 400) {
          violated("a request with bad framing (Host or Transfer-Encoding) got " +
                   std::to_string(answers[i].status) + ": " + answers[i].body);
        }
        if (i + 1 != answers.size()) violated("a request after bad framing was answered");
      }
      if (sent[i].version < 11 && answers[i].continued) {
        violated("100 Continue sent to an HTTP/1.0 request");
      }
    }
    for (const auto& answer : answers) {
      if (answer.status >= 500) {
        violated("answered " + std::to_string(answer.status) + ": " + answer.body);
      }
      if (answer.body.starts_with(R"({"results":[)")) {
        // A batch (200 or 202): one result per event.
        accepted += count(answer.body, R"("status":"queued")");
        duplicate_answers += count(answer.body, R"("status":"duplicate")");
        continue;
      }
      if (answer.status == 202) ++accepted;
      if (answer.status == 200 && answer.body.starts_with(R"({"status":"duplicate")")) {
        ++duplicate_answers;
      }
    }
    if (accepted != queued) {
      violated(std::to_string(accepted) + " events answered queued for " +
               std::to_string(queued) + " events queued");
    }
    if (duplicate_answers != duplicates) {
      violated(std::to_string(duplicate_answers) + " duplicate answers for " +
               std::to_string(duplicates) + " duplicates stored");
    }
  }

  const std::string logs = state->log_text.str();
  if (input.find(kPassword) == std::string_view::npos) {
    check_secret("logs", logs, kPassword, "the ingress password");
    check_secret("responses", x.received, kPassword, "the ingress password");
  }
  if (input.find(kBearerToken) == std::string_view::npos) {
    check_secret("logs", logs, kBearerToken, "the bearer token");
    check_secret("responses", x.received, kBearerToken, "the bearer token");
  }
  // The Basic credentials may be in the input as an Authorization header
  // line; anywhere else (in the path, or as an eventID, which the relay logs)
  // the sender chose to put them in a field that is legitimately echoed.
  std::string as_header_line = "\r\nAuthorization: Basic ";
  as_header_line += kBasicCredentials;
  as_header_line += "\r\n";
  if (count(input, kBasicCredentials) == count(input, as_header_line)) {
    check_secret("logs", logs, kBasicCredentials, "the Basic credentials");
    check_secret("responses", x.received, kBasicCredentials, "the Basic credentials");
  }
  return 0;
}
