/*
 * asyncio_native: the few system calls asyncio-ts needs that Node does not
 * expose. BSD socket calls on file descriptors (the `socket` namespace and
 * the loop's sock_* methods), sendfile(2), and uv_poll_t watchers on Node's
 * own libuv loop (addReader/addWriter), their reports handed to JavaScript
 * once per poll phase.
 *
 * Error convention, chosen for speed on the data path and clarity
 * elsewhere:
 *  - the calls a non-blocking loop retries (recv, recvfrom, send, sendto,
 *    accept, connect, sendfile, writev) return -errno instead of throwing, so that
 *    "would block" costs no exception object;
 *  - every other call throws an Error carrying `code` (the errno's name,
 *    "ECONNREFUSED"), `errno` (positive) and `syscall`.
 * The TypeScript side (src/node/addon.ts) turns both into the OSError
 * family through osErrorFrom, in one place.
 *
 * Addresses use Python's shapes: [host, port] for AF_INET, [host, port,
 * flowinfo, scope_id] for AF_INET6, a path string (or a Buffer, for
 * Linux's abstract namespace) for AF_UNIX.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/sendfile.h>
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) != napi_ok) return throw_napi_failure(env, #call);                                                      \
  } while (0)

#define ARGS(n)                                                                                                        \
  size_t argc = (n);                                                                                                   \
  napi_value argv[(n) > 0 ? (n) : 1];                                                                                  \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));                                                         \
  if (argc < (n)) {                                                                                                    \
    napi_throw_type_error(env, NULL, "asyncio_native: missing arguments");                                            \
    return NULL;                                                                                                       \
  }

/* ---- values ------------------------------------------------------------ */

static napi_value throw_napi_failure(napi_env env, const char *what) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, NULL, what);
  return NULL;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  if (napi_create_int64(env, v, &out) != napi_ok) return NULL;
  return out;
}

/* A count that fits 32 bits (a receive or send size; lengths above 2 GiB are cut by the kernel anyway). */
static napi_value make_int32(napi_env env, int32_t v) {
  napi_value out;
  if (napi_create_int32(env, v, &out) != napi_ok) return NULL;
  return out;
}

static napi_value make_double(napi_env env, double v) {
  napi_value out;
  if (napi_create_double(env, v, &out) != napi_ok) return NULL;
  return out;
}

static napi_value make_bool(napi_env env, bool v) {
  napi_value out;
  if (napi_get_boolean(env, v, &out) != napi_ok) return NULL;
  return out;
}

static napi_value make_string(napi_env env, const char *s) {
  napi_value out;
  if (napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &out) != napi_ok) return NULL;
  return out;
}

static bool get_int(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) == napi_ok) return true;
  napi_throw_type_error(env, NULL, "asyncio_native: expected an integer");
  return false;
}

static bool get_int64(napi_env env, napi_value v, int64_t *out) {
  if (napi_get_value_int64(env, v, out) == napi_ok) return true;
  napi_throw_type_error(env, NULL, "asyncio_native: expected an integer");
  return false;
}

/* The elements of a typed array of type `want` and their number; a TypeError saying `expected` otherwise. */
static bool get_typed_array(napi_env env, napi_value v, napi_typedarray_type want, const char *expected, void **data,
                            size_t *count) {
  napi_typedarray_type type;
  if (napi_get_typedarray_info(env, v, &type, count, data, NULL, NULL) != napi_ok || type != want) {
    napi_throw_type_error(env, NULL, expected);
    return false;
  }
  return true;
}

/* The whole of a Uint8Array (or Buffer): one N-API query, no ArrayBuffer handle. */
static bool get_whole_bytes(napi_env env, napi_value v, char **data, size_t *len) {
  return get_typed_array(env, v, napi_uint8_array, "asyncio_native: expected a Uint8Array", (void **)data, len);
}

/* The bytes [offset, offset + length) of a Uint8Array (or Buffer), bounds-checked. */
static bool get_bytes(napi_env env, napi_value v, napi_value voff, napi_value vlen, char **data, size_t *len) {
  char *base;
  size_t count;
  if (!get_whole_bytes(env, v, &base, &count)) return false;
  int64_t off = 0, n = (int64_t)count;
  if (voff != NULL && !get_int64(env, voff, &off)) return false;
  if (vlen != NULL && !get_int64(env, vlen, &n)) return false;
  if (off < 0 || n < 0 || (uint64_t)off + (uint64_t)n > count) {
    napi_throw_range_error(env, NULL, "asyncio_native: offset/length outside the buffer");
    return false;
  }
  *data = base + off;
  *len = (size_t)n;
  return true;
}

/* Throws an Error with code/errno/syscall for errno `err`. */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value code, msg, error;
  const char *name = uv_err_name(-err);
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, code, msg, &error) != napi_ok) return NULL;
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", make_int(env, err));
  napi_set_named_property(env, error, "syscall", make_string(env, syscall));
  napi_throw(env, error);
  return NULL;
}

/* Throws a getaddrinfo failure the way Node reports one (code "EAI_NONAME", ...). */
static napi_value throw_gai(napi_env env, int rc, const char *host) {
  const char *name = "EAI_FAIL";
  switch (rc) {
    case EAI_NONAME: name = "EAI_NONAME"; break;
    case EAI_AGAIN: name = "EAI_AGAIN"; break;
    case EAI_FAMILY: name = "EAI_FAMILY"; break;
    case EAI_SERVICE: name = "EAI_SERVICE"; break;
    case EAI_SOCKTYPE: name = "EAI_SOCKTYPE"; break;
#ifdef EAI_NODATA
    case EAI_NODATA: name = "EAI_NODATA"; break;
#endif
    default: break;
  }
  napi_value code, msg, error;
  if (napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, gai_strerror(rc), NAPI_AUTO_LENGTH, &msg) != napi_ok) return NULL;
  if (napi_create_error(env, code, msg, &error) != napi_ok) return NULL;
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "syscall", make_string(env, "getaddrinfo"));
  napi_set_named_property(env, error, "hostname", make_string(env, host));
  napi_throw(env, error);
  return NULL;
}

/* ---- addresses --------------------------------------------------------- */

/* Python's shapes -> struct sockaddr; throws (and returns false) on a bad address. */
static bool to_sockaddr(napi_env env, int family, napi_value addr, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof(*ss));
  if (family == AF_UNIX) {
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    char path[sizeof(un->sun_path) + 1];
    size_t n = 0;
    napi_valuetype t;
    napi_typeof(env, addr, &t);
    if (t == napi_string) {
      if (napi_get_value_string_utf8(env, addr, path, sizeof(path), &n) != napi_ok) return false;
      size_t full = 0;
      napi_get_value_string_utf8(env, addr, NULL, 0, &full);
      n = full;
      if (full >= sizeof(un->sun_path)) {
        throw_errno(env, ENAMETOOLONG, "AF_UNIX path too long");
        return false;
      }
      napi_get_value_string_utf8(env, addr, un->sun_path, sizeof(un->sun_path), &n);
    } else {
      char *data;
      if (!get_bytes(env, addr, NULL, NULL, &data, &n)) return false;
      if (n >= sizeof(un->sun_path)) {
        throw_errno(env, ENAMETOOLONG, "AF_UNIX path too long");
        return false;
      }
      memcpy(un->sun_path, data, n);
    }
    un->sun_family = AF_UNIX;
    /* An abstract name (leading NUL) is exactly n bytes long; a path also carries its terminating NUL. */
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (n > 0 && un->sun_path[0] == 0 ? 0 : 1));
    return true;
  }
  if (family != AF_INET && family != AF_INET6) {
    throw_errno(env, EAFNOSUPPORT, "sockaddr");
    return false;
  }
  bool is_array = false;
  napi_is_array(env, addr, &is_array);
  uint32_t items = 0;
  if (is_array) napi_get_array_length(env, addr, &items);
  if (!is_array || items < 2 || (family == AF_INET && items != 2) || items > 4) {
    napi_throw_type_error(env, NULL,
                          family == AF_INET ? "AF_INET address must be a [host, port] pair"
                                            : "AF_INET6 address must be [host, port] or [host, port, flowinfo, scope_id]");
    return false;
  }
  napi_value vhost, vport;
  napi_get_element(env, addr, 0, &vhost);
  napi_get_element(env, addr, 1, &vport);
  char host[256];
  size_t hn = 0;
  if (napi_get_value_string_utf8(env, vhost, host, sizeof(host), &hn) != napi_ok) {
    napi_throw_type_error(env, NULL, "the host of an address must be a string");
    return false;
  }
  int32_t port = 0;
  if (napi_get_value_int32(env, vport, &port) != napi_ok || port < 0 || port > 65535) {
    napi_throw_range_error(env, NULL, "port must be 0-65535");
    return false;
  }
  uint32_t flowinfo = 0, scope_id = 0;
  if (items > 2) {
    napi_value v;
    napi_get_element(env, addr, 2, &v);
    napi_get_value_uint32(env, v, &flowinfo);
  }
  if (items > 3) {
    napi_value v;
    napi_get_element(env, addr, 3, &v);
    napi_get_value_uint32(env, v, &scope_id);
  }
  if (family == AF_INET) {
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    *len = sizeof(*in);
    if (hn == 0) in->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "<broadcast>") == 0) in->sin_addr.s_addr = htonl(INADDR_BROADCAST);
    else if (inet_pton(AF_INET, host, &in->sin_addr) != 1) goto resolve;
    return true;
  }
  {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    in6->sin6_flowinfo = htonl(flowinfo);
    in6->sin6_scope_id = scope_id;
    *len = sizeof(*in6);
    if (hn == 0) in6->sin6_addr = in6addr_any;
    else if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) goto resolve;
    return true;
  }
resolve: {
  /* A host name (or an IPv6 address with a %scope): resolved here, blocking, as Python's socket module does. */
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = family;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0) {
    throw_gai(env, rc, host);
    return false;
  }
  memcpy(ss, res->ai_addr, res->ai_addrlen);
  *len = res->ai_addrlen;
  freeaddrinfo(res);
  if (family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_port = htons((uint16_t)port);
    in6->sin6_flowinfo = htonl(flowinfo);
    if (scope_id != 0) in6->sin6_scope_id = scope_id;
  }
  return true;
}
}

/* struct sockaddr -> Python's shapes (null for an empty address). */
static napi_value from_sockaddr(napi_env env, const struct sockaddr_storage *ss, socklen_t len) {
  napi_value out, null_value;
  napi_get_null(env, &null_value);
  if (len == 0) return null_value;
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
    napi_create_array_with_length(env, 2, &out);
    napi_set_element(env, out, 0, make_string(env, host));
    napi_set_element(env, out, 1, make_int(env, ntohs(in->sin_port)));
    return out;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
    char host[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
    napi_create_array_with_length(env, 4, &out);
    napi_set_element(env, out, 0, make_string(env, host));
    napi_set_element(env, out, 1, make_int(env, ntohs(in6->sin6_port)));
    napi_set_element(env, out, 2, make_int(env, ntohl(in6->sin6_flowinfo)));
    napi_set_element(env, out, 3, make_int(env, in6->sin6_scope_id));
    return out;
  }
  if (ss->ss_family == AF_UNIX) {
    const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
    size_t n = len > offsetof(struct sockaddr_un, sun_path) ? len - offsetof(struct sockaddr_un, sun_path) : 0;
    if (n > 0 && un->sun_path[0] == 0) {
      /* Linux's abstract namespace: the name is bytes, as in Python. */
      void *data;
      napi_create_buffer_copy(env, n, un->sun_path, &data, &out);
      return out;
    }
    size_t plen = strnlen(un->sun_path, n);
    napi_create_string_utf8(env, un->sun_path, plen, &out);
    return out;
  }
  return null_value;
}

/* ---- socket calls -------------------------------------------------------- */

static napi_value js_socket(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t family, type, proto;
  if (!get_int(env, argv[0], &family) || !get_int(env, argv[1], &type) || !get_int(env, argv[2], &proto)) return NULL;
  int fd = socket(family, type | SOCK_CLOEXEC, proto);
  if (fd < 0) return throw_errno(env, errno, "socket");
  return make_int(env, fd);
}

static napi_value js_socketpair(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t family, type, proto;
  if (!get_int(env, argv[0], &family) || !get_int(env, argv[1], &type) || !get_int(env, argv[2], &proto)) return NULL;
  int fds[2];
  if (socketpair(family, type | SOCK_CLOEXEC, proto, fds) < 0) return throw_errno(env, errno, "socketpair");
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, make_int(env, fds[0]));
  napi_set_element(env, out, 1, make_int(env, fds[1]));
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  /* On Linux the descriptor is released even when close() reports EINTR: never retry. */
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close");
  return NULL;
}

static napi_value js_dup(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  int out = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (out < 0) return throw_errno(env, errno, "dup");
  return make_int(env, out);
}

static napi_value js_setblocking(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  bool blocking;
  if (!get_int(env, argv[0], &fd)) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &blocking));
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return throw_errno(env, errno, "fcntl");
  int wanted = blocking ? (flags & ~O_NONBLOCK) : (flags | O_NONBLOCK);
  if (wanted != flags && fcntl(fd, F_SETFL, wanted) < 0) return throw_errno(env, errno, "fcntl");
  return NULL;
}

static napi_value js_getblocking(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return throw_errno(env, errno, "fcntl");
  return make_bool(env, (flags & O_NONBLOCK) == 0);
}

/* [family, type, proto] of a socket descriptor (for fromFd and accepted sockets). */
static napi_value js_sockinfo(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  int values[3] = {0, 0, 0};
  int opts[3] = {SO_DOMAIN, SO_TYPE, SO_PROTOCOL};
  for (int i = 0; i < 3; i++) {
    socklen_t len = sizeof(int);
    if (getsockopt(fd, SOL_SOCKET, opts[i], &values[i], &len) < 0) return throw_errno(env, errno, "getsockopt");
  }
  napi_value out;
  napi_create_array_with_length(env, 3, &out);
  for (int i = 0; i < 3; i++) napi_set_element(env, out, i, make_int(env, values[i]));
  return out;
}

static napi_value js_bind(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd, family;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &family)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (!to_sockaddr(env, family, argv[2], &ss, &len)) return NULL;
  if (bind(fd, (struct sockaddr *)&ss, len) < 0) return throw_errno(env, errno, "bind");
  return NULL;
}

static napi_value js_listen(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd, backlog;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &backlog)) return NULL;
  if (listen(fd, backlog) < 0) return throw_errno(env, errno, "listen");
  return NULL;
}

/* connect(fd, family, address) -> 0 or -errno (EINPROGRESS for a non-blocking socket). */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd, family;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &family)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len;
  if (!to_sockaddr(env, family, argv[2], &ss, &len)) return NULL;
  int rc = connect(fd, (struct sockaddr *)&ss, len);
  return make_int(env, rc < 0 ? -errno : 0);
}

/* accept(fd) -> [fd, address] or -errno. The new descriptor is close-on-exec and blocking, as in Python. */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  int conn = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
  if (conn < 0) return make_int(env, -errno);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, make_int(env, conn));
  napi_set_element(env, out, 1, from_sockaddr(env, &ss, len));
  return out;
}

/*
 * recv and send as plain system calls where Linux allows: glibc's wrappers
 * are thread-cancellation points, and the enable/disable bracket around
 * each call was about 1.5 % of an echo server's CPU time. Node never
 * cancels its threads, so the bracket buys nothing here.
 */
#if defined(__linux__) && defined(SYS_recvfrom) && defined(SYS_sendto)
#define SYS_RECV(fd, buf, len, flags) syscall(SYS_recvfrom, (fd), (buf), (len), (flags), NULL, NULL)
#define SYS_SEND(fd, buf, len, flags) syscall(SYS_sendto, (fd), (buf), (len), (flags), NULL, 0)
#else
#define SYS_RECV(fd, buf, len, flags) recv((fd), (buf), (len), (flags))
#define SYS_SEND(fd, buf, len, flags) send((fd), (buf), (len), (flags))
#endif

/*
 * recvBuffer(fd, buf) -> bytes received into buf (at most its length), or
 * -errno; sendBuffer(fd, buf) -> bytes of buf sent, or -errno (never
 * SIGPIPE). The stream transports' data path: two arguments instead of
 * five, so a call costs less than recv/send with their offset, length and
 * flags.
 */
static napi_value whole_buffer_io(napi_env env, napi_callback_info info, bool sending) {
  ARGS(2);
  int32_t fd;
  char *data;
  size_t len;
  if (!get_int(env, argv[0], &fd) || !get_whole_bytes(env, argv[1], &data, &len)) return NULL;
  ssize_t n = sending ? SYS_SEND(fd, data, len, MSG_NOSIGNAL) : SYS_RECV(fd, data, len, 0);
  return make_int32(env, n < 0 ? -errno : (int32_t)n);
}

static napi_value js_recv_buffer(napi_env env, napi_callback_info info) { return whole_buffer_io(env, info, false); }

static napi_value js_send_buffer(napi_env env, napi_callback_info info) { return whole_buffer_io(env, info, true); }

/*
 * recvPooled(fd, scratch, pool, offset) -> bytes received, or -errno: recv
 * into the whole of `scratch`, and when fewer than RECV_COPY_LIMIT bytes
 * came (and they fit), a copy of them at `pool[offset]`. The stream
 * transports hand small receives out as views of one shared pool: a fresh
 * Buffer per receive costs an ArrayBuffer (about 1.5 us in V8), and the
 * copy made here, from a buffer that stays in cache, costs less than
 * making it from JavaScript.
 */
#define RECV_COPY_LIMIT (16 * 1024)

static napi_value js_recv_pooled(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t fd;
  char *scratch, *pool;
  size_t scratch_len, pool_len;
  int64_t offset;
  if (!get_int(env, argv[0], &fd) || !get_whole_bytes(env, argv[1], &scratch, &scratch_len) ||
      !get_whole_bytes(env, argv[2], &pool, &pool_len) || !get_int64(env, argv[3], &offset))
    return NULL;
  ssize_t n = SYS_RECV(fd, scratch, scratch_len, 0);
  if (n < 0) return make_int32(env, -errno);
  if (n < RECV_COPY_LIMIT && offset >= 0 && (uint64_t)offset + (uint64_t)n <= pool_len) memcpy(pool + offset, scratch, (size_t)n);
  return make_int32(env, (int32_t)n);
}

/* An Int32Array argument: its elements and their number. */
static bool get_int32_array(napi_env env, napi_value v, int32_t **data, size_t *count) {
  return get_typed_array(env, v, napi_int32_array, "asyncio_native: expected an Int32Array", (void **)data, count);
}

/*
 * recvBatch(fds, count, pool, offset, results) -> how many of the first
 * `count` descriptors were received from: one recv each, straight into
 * `pool` from `offset` on (each receive may fill what is left; the next
 * starts at the following 8-byte boundary). results[2i] is the result
 * (bytes, 0 at end of file, or -errno) and results[2i + 1] where the bytes
 * start. It stops early when less than RECV_COPY_LIMIT bytes of the pool
 * are left: the caller makes a new pool and goes on. One call for a whole
 * poll phase's receives ahead (the stream transports' `_prefetch`): the
 * call's own cost, paid per receive, was as large as the receive's
 * JavaScript.
 */
static napi_value js_recv_batch(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t *fds, *results;
  size_t fds_len, results_len, pool_len;
  int32_t count;
  int64_t offset;
  char *pool;
  if (!get_int32_array(env, argv[0], &fds, &fds_len) || !get_int(env, argv[1], &count) ||
      !get_whole_bytes(env, argv[2], &pool, &pool_len) || !get_int64(env, argv[3], &offset) ||
      !get_int32_array(env, argv[4], &results, &results_len))
    return NULL;
  if (count < 0 || (size_t)count > fds_len || (size_t)count * 2 > results_len || offset < 0 ||
      (uint64_t)offset > pool_len) {
    napi_throw_range_error(env, NULL, "asyncio_native: recvBatch arguments outside their arrays");
    return NULL;
  }
  int32_t i = 0;
  for (; i < count; i++) {
    size_t start = (size_t)offset;
    if (start > pool_len || pool_len - start < RECV_COPY_LIMIT) break; /* a pool whose length is not a multiple of 8 */
    ssize_t n = SYS_RECV(fds[i], pool + start, pool_len - start, 0);
    results[2 * i] = n < 0 ? -errno : (int32_t)n;
    results[2 * i + 1] = (int32_t)start;
    if (n > 0) offset = (int64_t)((start + (size_t)n + 7) & ~(size_t)7);
  }
  return make_int32(env, i);
}

/* recv(fd, buf, offset, length, flags) -> bytes received into buf, or -errno. */
static napi_value js_recv(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t fd, flags;
  char *data;
  size_t len;
  if (!get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], argv[2], argv[3], &data, &len) ||
      !get_int(env, argv[4], &flags))
    return NULL;
  ssize_t n = SYS_RECV(fd, data, len, flags);
  return make_int(env, n < 0 ? -errno : n);
}

/* recvfrom(fd, buf, offset, length, flags) -> [bytes, address] or -errno. */
static napi_value js_recvfrom(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t fd, flags;
  char *data;
  size_t len;
  if (!get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], argv[2], argv[3], &data, &len) ||
      !get_int(env, argv[4], &flags))
    return NULL;
  struct sockaddr_storage ss;
  socklen_t alen = sizeof(ss);
  ssize_t n = recvfrom(fd, data, len, flags, (struct sockaddr *)&ss, &alen);
  if (n < 0) return make_int(env, -errno);
  napi_value out;
  napi_create_array_with_length(env, 2, &out);
  napi_set_element(env, out, 0, make_int(env, n));
  napi_set_element(env, out, 1, from_sockaddr(env, &ss, alen));
  return out;
}

/* send(fd, buf, offset, length, flags) -> bytes sent or -errno. Never raises SIGPIPE (EPIPE instead). */
static napi_value js_send(napi_env env, napi_callback_info info) {
  ARGS(5);
  int32_t fd, flags;
  char *data;
  size_t len;
  if (!get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], argv[2], argv[3], &data, &len) ||
      !get_int(env, argv[4], &flags))
    return NULL;
  ssize_t n = SYS_SEND(fd, data, len, flags | MSG_NOSIGNAL);
  return make_int(env, n < 0 ? -errno : n);
}

/* sendto(fd, buf, offset, length, flags, family, address) -> bytes sent or -errno. */
static napi_value js_sendto(napi_env env, napi_callback_info info) {
  ARGS(7);
  int32_t fd, flags, family;
  char *data;
  size_t len;
  if (!get_int(env, argv[0], &fd) || !get_bytes(env, argv[1], argv[2], argv[3], &data, &len) ||
      !get_int(env, argv[4], &flags) || !get_int(env, argv[5], &family))
    return NULL;
  struct sockaddr_storage ss;
  socklen_t alen;
  if (!to_sockaddr(env, family, argv[6], &ss, &alen)) return NULL;
  ssize_t n = sendto(fd, data, len, flags | MSG_NOSIGNAL, (struct sockaddr *)&ss, alen);
  return make_int(env, n < 0 ? -errno : n);
}

/*
 * writev(fd, buffers, offset) -> bytes sent or -errno: one sendmsg(2) of
 * buffers[0] (from byte `offset` on), buffers[1], ... (at most IOV_MAX of
 * them), straight from the JavaScript memory. A transport's write buffer
 * drains in one call however many writes it holds; MSG_NOSIGNAL as send.
 */
#ifndef IOV_MAX
#define IOV_MAX 1024
#endif
static napi_value js_writev(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd;
  int64_t offset;
  if (!get_int(env, argv[0], &fd) || !get_int64(env, argv[2], &offset)) return NULL;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) {
    napi_throw_type_error(env, NULL, "asyncio_native: writev expects an array of Uint8Arrays");
    return NULL;
  }
  uint32_t count = 0;
  CHECK(napi_get_array_length(env, argv[1], &count));
  if (count > IOV_MAX) count = IOV_MAX;
  struct iovec iov[IOV_MAX];
  int used = 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value item;
    CHECK(napi_get_element(env, argv[1], i, &item));
    char *data;
    size_t len;
    if (!get_bytes(env, item, NULL, NULL, &data, &len)) return NULL;
    if (i == 0) {
      if (offset < 0 || (uint64_t)offset > len) {
        napi_throw_range_error(env, NULL, "asyncio_native: writev offset outside the first buffer");
        return NULL;
      }
      data += offset;
      len -= (size_t)offset;
    }
    if (len == 0) continue;
    iov[used].iov_base = data;
    iov[used].iov_len = len;
    used++;
  }
  if (used == 0) return make_int(env, 0);
  struct msghdr msg;
  memset(&msg, 0, sizeof(msg));
  msg.msg_iov = iov;
  msg.msg_iovlen = (size_t)used;
  ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
  return make_int(env, n < 0 ? -errno : n);
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd, how;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &how)) return NULL;
  if (shutdown(fd, how) < 0) return throw_errno(env, errno, "shutdown");
  return NULL;
}

static napi_value sockname(napi_env env, napi_callback_info info, bool peer) {
  ARGS(1);
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  memset(&ss, 0, sizeof(ss));
  int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (rc < 0) return throw_errno(env, errno, peer ? "getpeername" : "getsockname");
  return from_sockaddr(env, &ss, len);
}

static napi_value js_getsockname(napi_env env, napi_callback_info info) { return sockname(env, info, false); }
static napi_value js_getpeername(napi_env env, napi_callback_info info) { return sockname(env, info, true); }

/* setsockopt(fd, level, option, value): value is an integer or a Uint8Array. */
static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t fd, level, opt;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &level) || !get_int(env, argv[2], &opt)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  int rc;
  if (t == napi_number) {
    int32_t value;
    if (!get_int(env, argv[3], &value)) return NULL;
    rc = setsockopt(fd, level, opt, &value, sizeof(value));
  } else {
    char *data;
    size_t len;
    if (!get_bytes(env, argv[3], NULL, NULL, &data, &len)) return NULL;
    rc = setsockopt(fd, level, opt, data, (socklen_t)len);
  }
  if (rc < 0) return throw_errno(env, errno, "setsockopt");
  return NULL;
}

/* getsockopt(fd, level, option, buflen): an integer when buflen is 0, else a Buffer of at most buflen bytes. */
static napi_value js_getsockopt(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t fd, level, opt, buflen;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &level) || !get_int(env, argv[2], &opt) ||
      !get_int(env, argv[3], &buflen))
    return NULL;
  if (buflen <= 0) {
    int value = 0;
    socklen_t len = sizeof(value);
    if (getsockopt(fd, level, opt, &value, &len) < 0) return throw_errno(env, errno, "getsockopt");
    return make_int(env, value);
  }
  if (buflen > 1024) {
    napi_throw_range_error(env, NULL, "getsockopt buflen out of range (1-1024)");
    return NULL;
  }
  char buf[1024];
  socklen_t len = (socklen_t)buflen;
  if (getsockopt(fd, level, opt, buf, &len) < 0) return throw_errno(env, errno, "getsockopt");
  napi_value out;
  void *data;
  napi_create_buffer_copy(env, len, buf, &data, &out);
  return out;
}

/* sendfile(out_fd, in_fd, offset, count) -> bytes sent or -errno; -ENOSYS where the call does not exist. */
static napi_value js_sendfile(napi_env env, napi_callback_info info) {
  ARGS(4);
  int32_t out_fd, in_fd;
  int64_t offset, count;
  if (!get_int(env, argv[0], &out_fd) || !get_int(env, argv[1], &in_fd) || !get_int64(env, argv[2], &offset) ||
      !get_int64(env, argv[3], &count))
    return NULL;
#ifdef __linux__
  off_t off = (off_t)offset;
  ssize_t n = sendfile(out_fd, in_fd, &off, (size_t)count);
  return make_int(env, n < 0 ? -errno : n);
#else
  (void)out_fd; (void)in_fd; (void)offset; (void)count;
  return make_int(env, -ENOSYS);
#endif
}

/* The size of a regular file, or -1 when fd is not one (sendfile's precondition). */
static napi_value js_regular_file_size(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd;
  if (!get_int(env, argv[0], &fd)) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) return make_int(env, -1);
  return make_double(env, (double)st.st_size);
}

static napi_value js_lseek(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd;
  int64_t offset;
  if (!get_int(env, argv[0], &fd) || !get_int64(env, argv[1], &offset)) return NULL;
  off_t r = lseek(fd, (off_t)offset, SEEK_SET);
  if (r < 0) return throw_errno(env, errno, "lseek");
  return make_double(env, (double)r);
}

/* waitfd(fd, writable, timeout_ms) -> 1 ready, 0 timed out (a socket's settimeout()). */
static napi_value js_waitfd(napi_env env, napi_callback_info info) {
  ARGS(3);
  int32_t fd, timeout;
  bool writable;
  if (!get_int(env, argv[0], &fd)) return NULL;
  CHECK(napi_get_value_bool(env, argv[1], &writable));
  if (!get_int(env, argv[2], &timeout)) return NULL;
  struct pollfd p = {fd, (short)(writable ? POLLOUT : POLLIN), 0};
  int rc;
  do rc = poll(&p, 1, timeout);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) return throw_errno(env, errno, "poll");
  return make_int(env, rc > 0 ? 1 : 0);
}

/* errname(errno) -> "ECONNREFUSED"; strerror(errno) -> "Connection refused". */
static napi_value js_errname(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t err;
  if (!get_int(env, argv[0], &err)) return NULL;
  return make_string(env, uv_err_name(-err));
}

static napi_value js_strerror(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t err;
  if (!get_int(env, argv[0], &err)) return NULL;
  return make_string(env, strerror(err));
}

/* ---- uv_poll_t watchers ---------------------------------------------------
 *
 * One watcher per descriptor (libuv allows only one poll handle per fd).
 * The handle is unref'd: a watcher never keeps the process alive by itself
 * (the asyncio loop keeps the process alive while it runs).
 *
 * Reports are batched per libuv poll phase. libuv calls watcher_on_event
 * once per ready descriptor; crossing into JavaScript for each (an
 * InternalCallbackScope, async-hooks bookkeeping and a microtask checkpoint
 * per descriptor) was the main JavaScript-side cost of a busy server. So a
 * report is only recorded in its env's poll_state_t (the watcher's id, the
 * status, the events; a second report of the same watcher in the same
 * phase is merged into the first), and the first report of a phase starts
 * a uv_check_t: libuv runs check handles right after the poll phase, and
 * that handle stops itself and makes ONE napi_make_callback into the
 * dispatcher given to pollInit, with the phase's reports in an Int32Array.
 * Microtasks queued by the dispatcher run after it, as after any I/O
 * callback.
 *
 *  - A watcher closed between its report and the dispatch takes its report
 *    out of the batch (each watcher knows its slot): its id never reaches
 *    JavaScript after pollClose, so the id may be reused at once.
 *  - A dispatcher that throws: the batch is already taken (the next phase
 *    starts a new one), and the exception goes to napi_fatal_exception,
 *    i.e. 'uncaughtException', as from any other I/O callback.
 *  - The state is per env (napi instance data), so each worker thread has
 *    its own batch, check handle and dispatcher; nothing mutable is shared
 *    between threads. It is freed once the env, its check handle and every
 *    watcher pointing at it are gone (a reference count), whatever the
 *    order of the finalizers at env teardown.
 */

typedef struct poll_state poll_state_t;

typedef struct {
  uv_poll_t handle;
  poll_state_t *state;
  int32_t id;     /* given at pollNew; what the dispatcher receives */
  int pending;    /* the index of this watcher's report in the current batch, or -1 */
  int closing;    /* pollClose (or the finalizer) ran: no more reports */
  int uv_closed;  /* libuv is done with the handle */
  int finalized;  /* the JavaScript external is gone */
} watcher_t;

typedef struct {
  watcher_t *watcher; /* NULL: the watcher was closed before the dispatch */
  int32_t status;     /* 0, or the first -errno of the phase */
  int32_t events;     /* UV_READABLE | UV_WRITABLE | UV_DISCONNECT, merged */
} report_t;

#define REPORT_INTS 3 /* id, status, events: one report in the dispatcher's Int32Array */

struct poll_state {
  napi_env env;
  uv_check_t check;
  int check_started;
  napi_ref dispatcher; /* NULL until pollInit */
  napi_async_context async_context;
  napi_ref array;          /* the Int32Array handed to the dispatcher (NULL until the first dispatch) */
  int32_t *array_data;     /* its memory (V8 never moves an ArrayBuffer's backing store) */
  size_t array_capacity;   /* in reports */
  report_t *reports;       /* the current phase's batch */
  size_t count, capacity;  /* in reports */
  size_t refs;             /* the env, the check handle until closed, and each watcher not yet freed */
  int torn_down;           /* the env is going away: no reports, no dispatch */
};

static void poll_state_unref(poll_state_t *s) {
  if (--s->refs > 0) return;
  free(s->reports);
  free(s);
}

/* The memory goes once both libuv and the JavaScript external are done with it. */
static void watcher_free(watcher_t *w) {
  poll_state_t *s = w->state;
  free(w);
  poll_state_unref(s);
}

static void watcher_on_close(uv_handle_t *handle) {
  watcher_t *w = (watcher_t *)handle->data;
  w->uv_closed = 1;
  if (w->finalized) watcher_free(w);
}

static void watcher_close(watcher_t *w) {
  if (w->closing) return;
  w->closing = 1;
  if (w->pending >= 0) {
    /* Reported in this phase, not dispatched yet: the report goes too. */
    w->state->reports[w->pending].watcher = NULL;
    w->pending = -1;
  }
  uv_close((uv_handle_t *)&w->handle, watcher_on_close);
}

static void poll_state_on_check(uv_check_t *check);

static void watcher_on_event(uv_poll_t *handle, int status, int events) {
  watcher_t *w = (watcher_t *)handle->data;
  poll_state_t *s = w->state;
  if (w->closing || s->torn_down) return;
  if (w->pending >= 0) {
    /* libuv may call epoll_wait more than once in a phase: one report per watcher per batch. */
    report_t *r = &s->reports[w->pending];
    r->events |= events;
    if (status < 0 && r->status == 0) r->status = status;
    return;
  }
  if (s->count == s->capacity) {
    size_t capacity = s->capacity == 0 ? 64 : s->capacity * 2;
    report_t *grown = (report_t *)realloc(s->reports, capacity * sizeof(report_t));
    /* Out of memory: drop the report; polling is level-triggered, the next phase reports it again. */
    if (grown == NULL) return;
    s->reports = grown;
    s->capacity = capacity;
  }
  if (!s->check_started) {
    uv_check_start(&s->check, poll_state_on_check);
    s->check_started = 1;
  }
  s->reports[s->count] = (report_t){w, status, events};
  w->pending = (int)s->count++;
}

/* Makes sure the dispatcher's Int32Array holds `n` reports (a larger one replaces it). */
static bool poll_state_reserve(poll_state_t *s, size_t n) {
  if (s->array != NULL && s->array_capacity >= n) return true;
  size_t capacity = s->array_capacity == 0 ? 64 : s->array_capacity;
  while (capacity < n) capacity *= 2;
  napi_env env = s->env;
  napi_value buffer, array;
  void *data = NULL;
  if (napi_create_arraybuffer(env, capacity * REPORT_INTS * sizeof(int32_t), &data, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_int32_array, capacity * REPORT_INTS, buffer, 0, &array) != napi_ok)
    return false;
  napi_ref ref;
  if (napi_create_reference(env, array, 1, &ref) != napi_ok) return false;
  if (s->array != NULL) napi_delete_reference(env, s->array);
  s->array = ref;
  s->array_data = (int32_t *)data;
  s->array_capacity = capacity;
  return true;
}

/* Right after the poll phase: hands the batch to the dispatcher in one call. */
static void poll_state_on_check(uv_check_t *check) {
  poll_state_t *s = (poll_state_t *)check->data;
  uv_check_stop(check);
  s->check_started = 0;
  /* Take the batch first, whatever happens next: closed watchers' slots are skipped. */
  size_t n = 0;
  for (size_t i = 0; i < s->count; i++) {
    watcher_t *w = s->reports[i].watcher;
    if (w == NULL) continue;
    w->pending = -1;
    s->reports[n++] = s->reports[i];
  }
  s->count = 0;
  if (n == 0 || s->dispatcher == NULL || s->torn_down) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value dispatcher, array, recv, argv[2], result;
  if (poll_state_reserve(s, n) && napi_get_reference_value(env, s->dispatcher, &dispatcher) == napi_ok &&
      napi_get_reference_value(env, s->array, &array) == napi_ok && napi_get_global(env, &recv) == napi_ok &&
      napi_create_uint32(env, (uint32_t)n, &argv[1]) == napi_ok) {
    int32_t *out = s->array_data;
    for (size_t i = 0; i < n; i++, out += REPORT_INTS) {
      out[0] = s->reports[i].watcher->id;
      out[1] = s->reports[i].status;
      out[2] = s->reports[i].events;
    }
    argv[0] = array;
    /* napi_make_callback needs an object as `this`; one call, one microtask checkpoint after it. */
    if (napi_make_callback(env, s->async_context, recv, dispatcher, 2, argv, &result) == napi_pending_exception) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void poll_state_on_check_close(uv_handle_t *handle) { poll_state_unref((poll_state_t *)handle->data); }

/* The env goes away (its instance data is finalized): no more dispatches; watchers still open keep the memory. */
static void poll_state_finalize(napi_env env, void *data, void *hint) {
  (void)hint;
  poll_state_t *s = (poll_state_t *)data;
  s->torn_down = 1;
  for (size_t i = 0; i < s->count; i++)
    if (s->reports[i].watcher != NULL) s->reports[i].watcher->pending = -1;
  s->count = 0;
  if (s->dispatcher != NULL) napi_delete_reference(env, s->dispatcher);
  if (s->array != NULL) napi_delete_reference(env, s->array);
  if (s->async_context != NULL) napi_async_destroy(env, s->async_context);
  s->dispatcher = NULL;
  s->array = NULL;
  s->async_context = NULL;
  uv_close((uv_handle_t *)&s->check, poll_state_on_check_close);
  poll_state_unref(s);
}

/* Made at module init, once per env (the main thread and each worker). */
static bool poll_state_init(napi_env env) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return false;
  poll_state_t *s = (poll_state_t *)calloc(1, sizeof(poll_state_t));
  if (s == NULL) return false;
  s->env = env;
  if (uv_check_init(loop, &s->check) != 0) {
    free(s);
    return false;
  }
  s->check.data = s;
  uv_unref((uv_handle_t *)&s->check); /* the batch never keeps the process alive */
  s->refs = 2;                        /* the env and the check handle */
  if (napi_set_instance_data(env, s, poll_state_finalize, NULL) != napi_ok) {
    s->refs = 1;
    uv_close((uv_handle_t *)&s->check, poll_state_on_check_close);
    return false;
  }
  return true;
}

static poll_state_t *get_poll_state(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok || data == NULL) {
    napi_throw_error(env, NULL, "asyncio_native: no watcher state for this thread");
    return NULL;
  }
  return (poll_state_t *)data;
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  /* The JavaScript object is gone: a watcher still open is closed (the TS side closes them explicitly). */
  (void)env;
  (void)hint;
  watcher_t *w = (watcher_t *)data;
  watcher_close(w);
  w->finalized = 1;
  if (w->uv_closed) watcher_free(w);
}

static watcher_t *get_watcher(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, NULL, "asyncio_native: expected a watcher");
    return NULL;
  }
  watcher_t *w = (watcher_t *)data;
  if (w->closing) {
    napi_throw_error(env, NULL, "asyncio_native: the watcher is closed");
    return NULL;
  }
  return w;
}

/*
 * pollInit(dispatcher): the env's dispatcher, called as dispatcher(reports,
 * count) after each poll phase that reported: reports is an Int32Array
 * holding count triples [id, status, events] from index 0 (status 0 or
 * -errno; events a mask of UV_READABLE | UV_WRITABLE | UV_DISCONNECT). The
 * array is reused by later dispatches (read it during the call). Calling
 * pollInit again replaces the dispatcher.
 */
static napi_value js_poll_init(napi_env env, napi_callback_info info) {
  ARGS(1);
  poll_state_t *s = get_poll_state(env);
  if (s == NULL) return NULL;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[0], &t));
  if (t != napi_function) {
    napi_throw_type_error(env, NULL, "asyncio_native: pollInit expects a function");
    return NULL;
  }
  napi_ref ref;
  CHECK(napi_create_reference(env, argv[0], 1, &ref));
  if (s->async_context == NULL) {
    napi_value name;
    CHECK(napi_create_string_utf8(env, "asyncio-ts:fd-watchers", NAPI_AUTO_LENGTH, &name));
    if (napi_async_init(env, NULL, name, &s->async_context) != napi_ok) {
      napi_delete_reference(env, ref);
      return throw_napi_failure(env, "napi_async_init");
    }
  }
  if (s->dispatcher != NULL) napi_delete_reference(env, s->dispatcher);
  s->dispatcher = ref;
  return NULL;
}

/* pollNew(fd, id) -> watcher (an external); its reports carry `id` (an int32 the caller chooses). */
static napi_value js_poll_new(napi_env env, napi_callback_info info) {
  ARGS(2);
  int32_t fd, id;
  if (!get_int(env, argv[0], &fd) || !get_int(env, argv[1], &id)) return NULL;
  poll_state_t *s = get_poll_state(env);
  if (s == NULL) return NULL;
  if (s->dispatcher == NULL) {
    napi_throw_error(env, NULL, "asyncio_native: pollInit(dispatcher) must come before pollNew");
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  watcher_t *w = (watcher_t *)calloc(1, sizeof(watcher_t));
  if (w == NULL) return throw_errno(env, ENOMEM, "uv_poll_init");
  /* uv_poll_init makes the descriptor non-blocking; Python's add_reader leaves its mode alone (a tty may be shared). */
  int flags = fcntl(fd, F_GETFL);
  int rc = uv_poll_init(loop, &w->handle, fd);
  if (rc == 0 && flags >= 0 && (flags & O_NONBLOCK) == 0) fcntl(fd, F_SETFL, flags);
  if (rc < 0) {
    free(w);
    return throw_errno(env, -rc, "uv_poll_init");
  }
  w->handle.data = w;
  w->state = s;
  w->id = id;
  w->pending = -1;
  s->refs++;
  uv_unref((uv_handle_t *)&w->handle);
  napi_value out;
  if (napi_create_external(env, w, watcher_finalize, NULL, &out) != napi_ok) {
    w->closing = 1;
    w->finalized = 1;
    uv_close((uv_handle_t *)&w->handle, watcher_on_close);
    return throw_napi_failure(env, "pollNew");
  }
  return out;
}

/* pollStart(watcher, events): watch for events (UV_READABLE | UV_WRITABLE); 0 stops watching. */
static napi_value js_poll_start(napi_env env, napi_callback_info info) {
  ARGS(2);
  watcher_t *w = get_watcher(env, argv[0]);
  int32_t events;
  if (w == NULL || !get_int(env, argv[1], &events)) return NULL;
  int rc = events == 0 ? uv_poll_stop(&w->handle) : uv_poll_start(&w->handle, events, watcher_on_event);
  if (rc < 0) return throw_errno(env, -rc, "uv_poll_start");
  return NULL;
}

/* pollClose(watcher): stops and releases the watcher (idempotent); a report not yet dispatched is dropped. The descriptor stays open. */
static napi_value js_poll_close(napi_env env, napi_callback_info info) {
  ARGS(1);
  void *data = NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) return NULL;
  watcher_close((watcher_t *)data);
  return NULL;
}

/* ---- module ------------------------------------------------------------- */

static void set_int_property(napi_env env, napi_value obj, const char *name, int value) {
  napi_set_named_property(env, obj, name, make_int(env, value));
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL},
      {"socketpair", NULL, js_socketpair, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"dup", NULL, js_dup, NULL, NULL, NULL, napi_default, NULL},
      {"setblocking", NULL, js_setblocking, NULL, NULL, NULL, napi_default, NULL},
      {"getblocking", NULL, js_getblocking, NULL, NULL, NULL, napi_default, NULL},
      {"sockinfo", NULL, js_sockinfo, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL},
      {"listen", NULL, js_listen, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"accept", NULL, js_accept, NULL, NULL, NULL, napi_default, NULL},
      {"recv", NULL, js_recv, NULL, NULL, NULL, napi_default, NULL},
      {"recvfrom", NULL, js_recvfrom, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"recvBuffer", NULL, js_recv_buffer, NULL, NULL, NULL, napi_default, NULL},
      {"recvPooled", NULL, js_recv_pooled, NULL, NULL, NULL, napi_default, NULL},
      {"recvBatch", NULL, js_recv_batch, NULL, NULL, NULL, napi_default, NULL},
      {"sendBuffer", NULL, js_send_buffer, NULL, NULL, NULL, napi_default, NULL},
      {"sendto", NULL, js_sendto, NULL, NULL, NULL, napi_default, NULL},
      {"writev", NULL, js_writev, NULL, NULL, NULL, napi_default, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_default, NULL},
      {"getsockname", NULL, js_getsockname, NULL, NULL, NULL, napi_default, NULL},
      {"getpeername", NULL, js_getpeername, NULL, NULL, NULL, napi_default, NULL},
      {"setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_default, NULL},
      {"getsockopt", NULL, js_getsockopt, NULL, NULL, NULL, napi_default, NULL},
      {"sendfile", NULL, js_sendfile, NULL, NULL, NULL, napi_default, NULL},
      {"regularFileSize", NULL, js_regular_file_size, NULL, NULL, NULL, napi_default, NULL},
      {"lseek", NULL, js_lseek, NULL, NULL, NULL, napi_default, NULL},
      {"waitfd", NULL, js_waitfd, NULL, NULL, NULL, napi_default, NULL},
      {"errname", NULL, js_errname, NULL, NULL, NULL, napi_default, NULL},
      {"strerror", NULL, js_strerror, NULL, NULL, NULL, napi_default, NULL},
      {"pollInit", NULL, js_poll_init, NULL, NULL, NULL, napi_default, NULL},
      {"pollNew", NULL, js_poll_new, NULL, NULL, NULL, napi_default, NULL},
      {"pollStart", NULL, js_poll_start, NULL, NULL, NULL, napi_default, NULL},
      {"pollClose", NULL, js_poll_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  if (!poll_state_init(env)) return throw_napi_failure(env, "asyncio_native: the watcher state");
  set_int_property(env, exports, "EAGAIN", EAGAIN);
  set_int_property(env, exports, "EWOULDBLOCK", EWOULDBLOCK);
  set_int_property(env, exports, "EINPROGRESS", EINPROGRESS);
  set_int_property(env, exports, "EINTR", EINTR);
  set_int_property(env, exports, "ENOTCONN", ENOTCONN);
  set_int_property(env, exports, "ENOSYS", ENOSYS);
  set_int_property(env, exports, "UV_READABLE", UV_READABLE);
  set_int_property(env, exports, "UV_WRITABLE", UV_WRITABLE);
  set_int_property(env, exports, "UV_DISCONNECT", UV_DISCONNECT);
  set_int_property(env, exports, "RECV_COPY_LIMIT", RECV_COPY_LIMIT);
#ifdef __linux__
  set_int_property(env, exports, "HAS_SENDFILE", 1);
#else
  set_int_property(env, exports, "HAS_SENDFILE", 0);
#endif
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
