#include "connection/status_page.hpp"

#include <ctime>
#include <string>
#include <string_view>

#include "core/stats.hpp"
#include "net/trusted_proxies.hpp"

namespace forkserve {
namespace {

bool allowed(const sockaddr_storage& peer, const Config& config) {
  std::optional<IpAddress> address = ip_of(peer);
  if (!address) return false;
  for (const Cidr& block : config.status_allow) {
    if (contains(block, *address)) return true;
  }
  return false;
}

// True if the query has format=prometheus among its &-separated parameters.
bool wants_prometheus(std::string_view query) {
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    if (query.substr(0, amp) == "format=prometheus") return true;
    query.remove_prefix(amp == std::string_view::npos ? query.size() : amp + 1);
  }
  return false;
}

}  // namespace

bool is_status_request(const http::RequestHead& head, const Config& config) {
  return !config.status_path.empty() && head.path == config.status_path;
}

void serve_status_page(ResponseWriter& writer, const http::RequestHead& head, const sockaddr_storage& peer,
                       const Config& config, const std::optional<ListenQueue>& listen_queue) {
  if (!allowed(peer, config)) {
    writer.fail(403, "the status page is not served to this address (--status-allow)");
    return;
  }
  if (head.method != "GET" && head.method != "HEAD") {
    writer.fail(405, "the status page answers GET and HEAD only");
    return;
  }
  StatusSnapshot snapshot = take_snapshot(stats(), server_facts(), std::time(nullptr));
  if (listen_queue) {
    snapshot.listen_queue = listen_queue->waiting;
    snapshot.listen_backlog = listen_queue->backlog;
  }
  bool prometheus = wants_prometheus(head.query);
  std::string body = prometheus ? render_status_prometheus(snapshot) : render_status_text(snapshot);
  std::string type = prometheus ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8";
  if (writer.start("200 OK", {{"Content-Type", type}, {"Cache-Control", "no-store"}}, false) &&
      writer.set_content_length(body.size()) && writer.write(body)) {
    writer.finish();
  }
}

}  // namespace forkserve
