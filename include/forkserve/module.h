/* forkserve handler module ABI.
 *
 * Only C types cross the dlopen() boundary. A module exports one function,
 * forkserve_module_v1, returning a static descriptor; the server checks the
 * magic, ABI major and size before using anything else in it. C++ handler
 * authors never fill this in by hand: FORKSERVE_EXPORT_HANDLER in export.hpp
 * builds it from a handler class.
 *
 * The ABI grows by appending, both ways. A struct's first version fixes its
 * prefix; a minor version appends fields and bumps FORKSERVE_ABI_MINOR. The
 * server accepts a descriptor of any size at least the 1.0 size and ignores
 * what it does not know. The request carries its own size and the server's
 * minor, so a module can tell whether a field or call is there before it uses
 * it (FORKSERVE_REQUEST_HAS). A module built for 1.0 (abi_minor 0) is handed
 * the 1.0 request, which began directly with `environ`.
 */
#ifndef FORKSERVE_MODULE_H
#define FORKSERVE_MODULE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FORKSERVE_MODULE_MAGIC 0x666b7376u /* "fksv" */
#define FORKSERVE_ABI_MAJOR 1             /* bumped on any incompatible change */
#define FORKSERVE_ABI_MINOR 2             /* bumped when fields are appended */
#define FORKSERVE_MODULE_SYMBOL "forkserve_module_v1"

/* Return codes of the server callbacks and of handle(). */
#define FORKSERVE_OK 0
#define FORKSERVE_FAILED (-1)

/* A byte string that is not NUL-terminated. */
typedef struct forkserve_str {
  const char* data;
  size_t size;
} forkserve_str;

typedef struct forkserve_pair {
  forkserve_str name;
  forkserve_str value;
} forkserve_pair;

/* What file_reply() fills in (since 1.2): the response the server's static
 * handler gives for one file. The caller zeroes it and sets `size` to the
 * sizeof it knows; the server fills what fits. Views stay valid until the
 * request ends. */
typedef struct forkserve_file_reply {
  uint32_t size;
  forkserve_str status;          /* "200 OK", "304 Not Modified", "404 Not Found", ... */
  const forkserve_pair* headers; /* Content-Type, Last-Modified, ...: send them with status */
  size_t header_count;
  int fd;                        /* >= 0: the body is `length` bytes of fd from `offset`; the
                                  * caller owns fd. -1: the body is `text` */
  long long offset;
  unsigned long long length;
  forkserve_str text;
} forkserve_file_reply;

/* What the server hands to handle(): the environ and the calls that make up
 * the response. Every call takes `server` as its first argument. Calls that
 * return int give FORKSERVE_OK or FORKSERVE_FAILED; after a failure,
 * last_error() says why (valid until the next call). */
typedef struct forkserve_request {
  /* Since 1.1. sizeof(forkserve_request) as the server filled it, and the
   * server's FORKSERVE_ABI_MINOR: fields past `size` are absent. */
  uint32_t size;
  uint32_t abi_minor;

  /* CGI/PEP 3333 variables, sorted by name, unique. */
  const forkserve_pair* environ;
  size_t environ_count;
  void* server;

  /* Request body: bytes read (> 0), 0 at the end of the body, -1 on error
   * (timeout, client gone). Never reads past CONTENT_LENGTH. */
  long long (*read_input)(void* server, char* buffer, size_t size);
  /* One message to the server's error log. */
  void (*log_error)(void* server, const char* message, size_t size);
  /* Records status and headers; nothing is sent until body bytes arrive or
   * the handler returns. `replace` != 0 allows a second call (WSGI's
   * exc_info) as long as nothing has been sent. */
  int (*start_response)(void* server, forkserve_str status, const forkserve_pair* headers,
                        size_t header_count, int replace);
  /* Tells the server the body's total size before the first write, so it can
   * send Content-Length. */
  int (*set_content_length)(void* server, unsigned long long length);
  int (*write)(void* server, const char* data, size_t size);
  /* Sends `length` bytes of `fd` from `offset` (sendfile); fd stays the
   * caller's. */
  int (*send_file)(void* server, int fd, long long offset, unsigned long long length);
  /* 1 once the status line has gone out (WSGI's "headers sent"). */
  int (*headers_sent)(void* server);
  const char* (*last_error)(void* server);

  /* Since 1.1. PEP 3333's wsgi.run_once: 1 when this process serves this one
   * request and exits (a child per connection, --inetd), 0 when it serves
   * more (--workers), so state the handler keeps may be seen again. */
  int run_once;

  /* Since 1.2. The static handler's answer for the file at `path` (a
   * filesystem path; no document root applies), for the handler to send as
   * its own: MIME type, Last-Modified and 304 for the request's conditional
   * headers, 403/404, and whatever else that handler does. */
  int (*file_reply)(void* server, forkserve_str path, forkserve_file_reply* reply);
} forkserve_request;

/* Whether `request` (a pointer) has `field`: added in a minor version newer
 * than the server's, it is absent. */
#define FORKSERVE_REQUEST_HAS(request, field) \
  (offsetof(forkserve_request, field) + sizeof((request)->field) <= (request)->size)

/* Fields are only ever appended: the server reads the ones it knows and
 * accepts any size from FORKSERVE_MODULE_SIZE_1_0 up. */
typedef struct forkserve_module {
  uint32_t magic;      /* FORKSERVE_MODULE_MAGIC */
  uint16_t abi_major;  /* FORKSERVE_ABI_MAJOR the module was built with */
  uint16_t abi_minor;  /* FORKSERVE_ABI_MINOR the module was built with */
  uint32_t size;       /* sizeof(forkserve_module) as the module saw it */
  const char* name;
  /* Parent, once, before listening. `arg` is the text after ':' in
   * --handler PATH.so:ARG ("" if none). Non-zero fails start-up; the reason
   * goes in `error` (NUL-terminated, at most error_size bytes). */
  int (*init)(const char* arg, char* error, size_t error_size);
  /* Child or worker, right after fork(), before a request is read. May be
   * NULL. */
  void (*post_fork)(void);
  /* Child, once per connection. Non-zero means the handler failed; the
   * reason was already passed to log_error. */
  int (*handle)(const forkserve_request* request);
  /* Parent, at exit, or once a reload has replaced the module. May be NULL. */
  void (*fini)(void);
} forkserve_module;

/* The size of the 1.0 descriptor: the smallest the server accepts. */
#define FORKSERVE_MODULE_SIZE_1_0 (offsetof(forkserve_module, fini) + sizeof(void (*)(void)))

typedef const forkserve_module* (*forkserve_module_entry)(void);

#ifdef __cplusplus
}
#endif

#endif /* FORKSERVE_MODULE_H */
